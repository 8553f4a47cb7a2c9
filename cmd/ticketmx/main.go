// Command ticketmx is the inbound MX daemon for support mailboxes and its
// operator tools. main only parses the command line and wires the packages;
// see serve.go for the daemon.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `ticketmx: inbound SMTP/MX daemon that turns support mail into tickets

Usage:
  ticketmx serve [--config FILE]     run the daemon (the default command)
  ticketmx check-config FILE         validate a config, print every problem, exit 1 on any
  ticketmx ctl [--socket PATH] [--json] COMMAND ...
                                     talk to a running daemon (ticketmx ctl --help)
  ticketmx store copy --from FILE [--config FILE]
                                     copy a bbolt store into the configured
                                     postgres store; safe to run again

Without --config, serve runs on the built-in default: SMTP on 127.0.0.1:2525,
data in ./ticketmx-data/, one tenant "demo" (demo.sobot.com) whose system
channel demo@demo.sobot.com is enabled.

Exit status: 0 success, 1 failure, 2 bad usage.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return runServe(nil, stderr)
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "check-config":
		return runCheckConfig(args[1:], stdout, stderr)
	case "ctl":
		return runCtl(args[1:], stdout, stderr)
	case "store":
		return runStore(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		if len(args[0]) > 0 && args[0][0] == '-' {
			// "ticketmx --config FILE" is "serve --config FILE".
			return runServe(args, stderr)
		}
		fmt.Fprintf(stderr, "ticketmx: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
