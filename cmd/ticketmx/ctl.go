package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// ctlDefaultSocket is serve's built-in admin socket (SPEC section 5).
const ctlDefaultSocket = "./ticketmx-data/admin.sock"

// ctl is one run of `ticketmx ctl`: where to write, which daemon to ask,
// how to print.
type ctl struct {
	stdout, stderr io.Writer
	socket         string
	json           bool
	client         *http.Client
}

// ctlUsageError is bad usage: exit status 2 and the usage of topic.
type ctlUsageError struct {
	topic string // "" for the whole tool, a group ("tickets") or a command path
	msg   string
}

func (e *ctlUsageError) Error() string { return e.msg }

func ctlUsagef(topic, format string, args ...any) error {
	return &ctlUsageError{topic: topic, msg: fmt.Sprintf(format, args...)}
}

// runCtl runs `ticketmx ctl ARGS...` and returns the exit status: 0 ok, 1
// the command failed, 2 bad usage.
func runCtl(args []string, stdout, stderr io.Writer) int {
	c := &ctl{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("ticketmx ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.socket, "socket", ctlSocketDefault(), "admin socket `PATH` of the daemon")
	fs.BoolVar(&c.json, "json", false, "print the admin API's JSON unchanged")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, ctlHelp(""))
			return 0
		}
		return c.usage(ctlUsagef("", "%v", err))
	}
	cmd, rest, err := ctlFind(fs.Args())
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, ctlHelp(helpTopic(fs.Args())))
		return 0
	}
	if err != nil {
		return c.usage(err)
	}
	c.client = ctlHTTPClient(c.socket)
	if err := c.runCommand(cmd, rest); err != nil {
		var ue *ctlUsageError
		switch {
		case errors.As(err, &ue):
			return c.usage(err)
		case errors.Is(err, flag.ErrHelp):
			fmt.Fprint(stdout, ctlHelp(cmd.path))
			return 0
		}
		fmt.Fprintf(stderr, "ticketmx ctl: %s\n", ctlOneLine(err.Error()))
		return 1
	}
	return 0
}

// ctlSocketDefault is $TICKETMX_ADMIN_SOCKET (the environment override of
// admin.socket, SPEC section 7) or serve's default.
func ctlSocketDefault() string {
	if p := os.Getenv("TICKETMX_ADMIN_SOCKET"); p != "" {
		return p
	}
	return ctlDefaultSocket
}

// usage reports bad usage: the problem, then the usage of its topic.
func (c *ctl) usage(err error) int {
	topic := ""
	var ue *ctlUsageError
	if errors.As(err, &ue) {
		topic = ue.topic
	}
	fmt.Fprintf(c.stderr, "ticketmx ctl: %v\n\n%s", err, ctlHelp(topic))
	return 2
}

// runCommand parses the command's flags and arguments and runs it.
func (c *ctl) runCommand(cmd *ctlCmd, args []string) error {
	fs := flag.NewFlagSet("ticketmx ctl "+cmd.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&c.json, "json", c.json, "print the admin API's JSON unchanged")
	var run ctlRun
	if cmd.setup != nil {
		run = cmd.setup(fs)
	}
	pos, err := ctlParseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ctlUsagef(cmd.path, "%s: %v", cmd.path, err)
	}
	if len(pos) != len(cmd.params) {
		switch {
		case len(pos) < len(cmd.params):
			return ctlUsagef(cmd.path, "%s: missing %s", cmd.path, strings.Join(cmd.params[len(pos):], " "))
		default:
			return ctlUsagef(cmd.path, "%s: unexpected argument %q", cmd.path, pos[len(cmd.params)])
		}
	}
	return run(c, pos)
}

// ctlParseInterleaved parses flags anywhere among the arguments
// ("tickets show acme#4 --json" as well as "tickets show --json acme#4");
// "--" ends the flags.
func ctlParseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// ctlOneLine folds a multi-line error (a refused config lists every
// problem) into the one line the exit status 1 contract promises.
func ctlOneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
