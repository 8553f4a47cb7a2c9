package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/sobot/ticketmx/config"
)

// runCheckConfig validates FILE and prints every problem, one per line.
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
		fmt.Fprintln(stderr, "usage: ticketmx check-config FILE")
		return 2
	}
	cfg, err := config.Load(args[0])
	if err != nil {
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				fmt.Fprintf(stderr, "%s: %s\n", args[0], p)
			}
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", args[0], len(ve.Problems))
			return 1
		}
		fmt.Fprintf(stderr, "ticketmx check-config: %v\n", err)
		return 1
	}
	n := 0
	for _, ch := range cfg.Channels() {
		if ch.Enabled {
			n++
		}
	}
	fmt.Fprintf(stdout, "%s: ok (%d tenants, %d channels, %d enabled)\n", args[0], len(cfg.Tenants), len(cfg.Channels()), n)
	return 0
}
