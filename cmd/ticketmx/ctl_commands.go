package main

import (
	"flag"
	"strings"
)

// ctlRun runs a command with its positional arguments once its flags are
// parsed.
type ctlRun func(c *ctl, args []string) error

// ctlCmd is one `ticketmx ctl` command.
type ctlCmd struct {
	path    string   // "tickets list"
	params  []string // positional parameters, all required
	flags   string   // flag summary for the usage line
	purpose string   // one line
	about   string   // the command's own help, after the purpose
	setup   func(fs *flag.FlagSet) ctlRun
}

func (cmd *ctlCmd) synopsis() string {
	return strings.Join(append(append([]string{cmd.path}, cmd.params...), cmd.flags), " ")
}

// ctlCommands is every command, in the order the help lists them.
var ctlCommands = []*ctlCmd{
	{
		path: "tickets list", flags: "[--tenant T] [--channel ADDR] [--status S] [--limit N] [--after CURSOR]",
		purpose: "list tickets, newest first",
		about: "Filters combine. A page holds --limit tickets (1 to 1000, default 50);\n" +
			"when there are more, the last line gives the --after value of the next page.",
		setup: func(fs *flag.FlagSet) ctlRun {
			var o ticketListOptions
			fs.StringVar(&o.tenant, "tenant", "", "only tickets of tenant `T`")
			fs.StringVar(&o.channel, "channel", "", "only tickets of the channel with address `ADDR`")
			fs.StringVar(&o.status, "status", "", "only tickets with status `S` (new, open, pending, resolved, closed)")
			fs.IntVar(&o.limit, "limit", 50, "at most `N` tickets (1 to 1000)")
			fs.StringVar(&o.after, "after", "", "continue after `CURSOR` (from the previous page)")
			return func(c *ctl, _ []string) error { return c.ticketsList(o) }
		},
	},
	{
		path: "tickets show", params: []string{"ID|TENANT#NUMBER"},
		purpose: "show a ticket and its messages",
		about:   "The ticket is named by its id (t…) or by its tenant and number, as acme#42.",
		setup:   func(*flag.FlagSet) ctlRun { return func(c *ctl, a []string) error { return c.ticketsShow(a[0]) } },
	},
	{
		path: "tickets set-status", params: []string{"ID|TENANT#NUMBER", "STATUS"},
		purpose: "change a ticket's status",
		about:   "STATUS is one of new, open, pending, resolved, closed. Closing sets closed_at;\nleaving closed clears it.",
		setup: func(*flag.FlagSet) ctlRun {
			return func(c *ctl, a []string) error { return c.ticketsSetStatus(a[0], a[1]) }
		},
	},
	{
		path: "tickets outbound", params: []string{"ID|TENANT#NUMBER", "MESSAGE-ID"},
		purpose: "register a sent reply's Message-ID so answers thread in",
		about:   "MESSAGE-ID is the Message-ID header of the reply an agent sent, as <id@host>\n(quote it in the shell).",
		setup: func(*flag.FlagSet) ctlRun {
			return func(c *ctl, a []string) error { return c.ticketsOutbound(a[0], a[1]) }
		},
	},
	{
		path: "messages raw", params: []string{"MESSAGE_ID_INTERNAL"},
		purpose: "print a stored message exactly as received",
		about: "MESSAGE_ID_INTERNAL is the internal id of a ticket message (m…, see tickets show)\n" +
			"or of a suspended message (s…). The bytes are written unchanged, with the\n" +
			"Authentication-Results and Received lines ticketmx prepended.",
		setup: func(*flag.FlagSet) ctlRun { return func(c *ctl, a []string) error { return c.messagesRaw(a[0]) } },
	},
	{
		path: "suspended list", flags: "[--limit N] [--after CURSOR]",
		purpose: "list messages held back from tickets, and why",
		about:   "DETAIL shows what the reason needs, such as the code and link of a\nforwarding confirmation.",
		setup: func(fs *flag.FlagSet) ctlRun {
			var o pageOptions
			fs.IntVar(&o.limit, "limit", 50, "at most `N` messages (1 to 1000)")
			fs.StringVar(&o.after, "after", "", "continue after `CURSOR` (from the previous page)")
			return func(c *ctl, _ []string) error { return c.suspendedList(o) }
		},
	},
	{
		path: "suspended release", params: []string{"ID"},
		purpose: "run the rules again; it becomes a ticket message",
		setup:   func(*flag.FlagSet) ctlRun { return func(c *ctl, a []string) error { return c.suspendedRelease(a[0]) } },
	},
	{
		path: "events list", flags: "[--state S] [--limit N] [--after CURSOR]",
		purpose: "webhook deliveries, newest event first",
		about: "One row per event and endpoint. WHEN is the next attempt of a pending row or\n" +
			"the delivery time of a delivered one; a failed row waits for events retry.",
		setup: func(fs *flag.FlagSet) ctlRun {
			var o eventListOptions
			fs.StringVar(&o.state, "state", "", "only rows in state `S` (pending, delivered, failed)")
			fs.IntVar(&o.limit, "limit", 50, "at most `N` rows (1 to 1000)")
			fs.StringVar(&o.after, "after", "", "continue after `CURSOR` (from the previous page)")
			return func(c *ctl, _ []string) error { return c.eventsList(o) }
		},
	},
	{
		path: "events retry", params: []string{"ID"},
		purpose: "deliver a failed event again now",
		about: "Every failed row of the event (one per endpoint) becomes pending, due now,\n" +
			"with webhooks.retry.max_age counted from the retry.",
		setup: func(*flag.FlagSet) ctlRun { return func(c *ctl, a []string) error { return c.eventsRetry(a[0]) } },
	},
	{
		path: "channels list", purpose: "effective channels and their state",
		setup: func(*flag.FlagSet) ctlRun { return func(c *ctl, _ []string) error { return c.channelsList() } },
	},
	{
		path: "reload", purpose: "re-read the config now",
		about: "A config that does not validate is refused whole (every problem is named)\nand the running one stays.",
		setup: func(*flag.FlagSet) ctlRun { return func(c *ctl, _ []string) error { return c.reload() } },
	},
	{
		path: "stats", purpose: "counters as JSON",
		setup: func(*flag.FlagSet) ctlRun { return func(c *ctl, _ []string) error { return c.stats() } },
	},
	{
		path: "backup", params: []string{"FILE"},
		purpose: "consistent hot copy of the store into FILE",
		about: "The copy is written to FILE.tmp, synced, then renamed to FILE, so FILE is\n" +
			"never a partial copy. The daemon keeps taking mail meanwhile. The copy is a\n" +
			"store file: serve can run on it (store.path).",
		setup: func(*flag.FlagSet) ctlRun { return func(c *ctl, a []string) error { return c.backup(a[0]) } },
	},
}

// ctlFind picks the command named by args and returns it with the
// arguments that follow its name.
func ctlFind(args []string) (*ctlCmd, []string, error) {
	if len(args) == 0 {
		return nil, nil, ctlUsagef("", "missing command")
	}
	if args[0] == "help" {
		return nil, nil, flag.ErrHelp
	}
	group := ctlGroup(args[0])
	if len(group) == 0 {
		return nil, nil, ctlUsagef("", "unknown command %q", args[0])
	}
	if len(group) == 1 && group[0].path == args[0] {
		return group[0], args[1:], nil
	}
	if len(args) == 1 {
		return nil, nil, ctlUsagef(args[0], "%s: missing subcommand", args[0])
	}
	if ctlIsHelp(args[1]) {
		return nil, nil, flag.ErrHelp
	}
	for _, cmd := range group {
		if cmd.path == args[0]+" "+args[1] {
			return cmd, args[2:], nil
		}
	}
	return nil, nil, ctlUsagef(args[0], "unknown command %q", args[0]+" "+args[1])
}

// ctlGroup is the commands whose first word is word.
func ctlGroup(word string) []*ctlCmd {
	var out []*ctlCmd
	for _, cmd := range ctlCommands {
		if cmd.path == word || strings.HasPrefix(cmd.path, word+" ") {
			out = append(out, cmd)
		}
	}
	return out
}

func ctlIsHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// helpTopic is what "help tickets list" or "tickets --help" asks about.
func helpTopic(args []string) string {
	var words []string
	for _, a := range args {
		if !ctlIsHelp(a) {
			words = append(words, a)
		}
	}
	for n := min(len(words), 2); n > 0; n-- {
		topic := strings.Join(words[:n], " ")
		if len(ctlGroup(topic)) > 0 {
			return topic
		}
	}
	return ""
}
