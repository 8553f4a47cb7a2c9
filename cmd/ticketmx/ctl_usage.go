package main

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
)

const ctlHelpGlobal = `Global flags (before the command):
  --socket PATH   admin socket of the daemon (default $TICKETMX_ADMIN_SOCKET,
                  else ./ticketmx-data/admin.sock, serve's built-in default)
  --json          print the admin API's JSON unchanged (also accepted after
                  the command)
  -h, --help      this help; "ticketmx ctl COMMAND --help" for one command
`

const ctlHelpExamples = `Examples:
  ticketmx ctl tickets list --tenant acme --status open
  ticketmx ctl tickets show acme#42
  ticketmx ctl tickets show --full acme#42
  ticketmx ctl tickets set-status acme#42 closed
  ticketmx ctl messages raw m00000000000002a1 > message.eml
  ticketmx ctl --json suspended list | jq -r '.suspended[].detail'
  ticketmx ctl tickets reply acme#42 --attach invoice.pdf < reply.txt
  ticketmx ctl outbound list --state failed
  ticketmx ctl events list --state failed
  ticketmx ctl events retry e00000000000001f4
  ticketmx ctl --socket /run/ticketmx/admin.sock reload
  ticketmx ctl backup /var/backups/ticketmx-$(date +%F).db
`

const ctlHelpExit = `Exit status:
  0  success
  1  the command failed, or the daemon is not running (one line on stderr)
  2  bad usage: unknown command, missing or extra arguments, bad flag
`

// ctlHelp is the help of topic: "" for the whole tool, a group such as
// "tickets", or a command path such as "tickets list".
func ctlHelp(topic string) string {
	group := ctlGroup(topic)
	switch {
	case topic == "" || len(group) == 0:
		return "ticketmx ctl: operate a running ticketmx daemon over its admin socket\n\n" +
			"Usage:\n  ticketmx ctl [--socket PATH] [--json] COMMAND [ARGUMENTS]\n\n" +
			"Commands:\n" + ctlCommandList(ctlCommands) + "\n" +
			ctlHelpGlobal + "\n" + ctlHelpExamples + "\n" + ctlHelpExit
	case len(group) == 1 && group[0].path == topic:
		return ctlCommandHelp(group[0])
	default:
		return fmt.Sprintf("Usage:\n  ticketmx ctl [--socket PATH] [--json] %s COMMAND [ARGUMENTS]\n\n", topic) +
			"Commands:\n" + ctlCommandList(group) + "\n" +
			fmt.Sprintf("Run \"ticketmx ctl %s COMMAND --help\" for a command's flags and details.\n\n", topic) +
			ctlHelpGlobal + "\n" + ctlHelpExit
	}
}

// ctlCommandList is one line per command: its synopsis and its purpose (on
// the next line when the synopsis is long).
func ctlCommandList(cmds []*ctlCmd) string {
	const col = 40
	var b strings.Builder
	for _, cmd := range cmds {
		syn := strings.TrimSpace(cmd.synopsis())
		if len(syn) < col-3 {
			fmt.Fprintf(&b, "  %-*s %s\n", col-3, syn, cmd.purpose)
		} else {
			fmt.Fprintf(&b, "  %s\n  %-*s %s\n", syn, col-3, "", cmd.purpose)
		}
	}
	return b.String()
}

// ctlCommandHelp is one command's help with its flags.
func ctlCommandHelp(cmd *ctlCmd) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  ticketmx ctl [--socket PATH] [--json] %s\n\n", strings.TrimSpace(cmd.synopsis()))
	b.WriteString(strings.ToUpper(cmd.purpose[:1]) + cmd.purpose[1:] + ".\n")
	if cmd.about != "" {
		b.WriteString(cmd.about + "\n")
	}
	fs := flag.NewFlagSet(cmd.path, flag.ContinueOnError)
	cmd.setup(fs)
	if flags := ctlFlagList(fs); flags != "" {
		b.WriteString("\nFlags:\n" + flags)
	}
	b.WriteString("\n" + ctlHelpGlobal + "\n" + ctlHelpExit)
	return b.String()
}

// ctlFlagList prints flags the way the usage lines write them (--name).
func ctlFlagList(fs *flag.FlagSet) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s %s\t%s\n", f.Name, arg, text)
	})
	tw.Flush()
	return b.String()
}
