package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mxload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	var rcpts, mix string
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:2525", "SMTP server `host:port`")
	fs.IntVar(&o.N, "n", 10000, "messages to send (ignored with -duration)")
	fs.DurationVar(&o.Duration, "duration", 0, "send for this long instead of -n messages")
	fs.IntVar(&o.Conns, "c", 16, "concurrent connections")
	fs.IntVar(&o.Size, "size", 4096, "message size in bytes (headers included)")
	fs.StringVar(&mix, "mix", "new=70,reply=20,merge=10", "message mix, weights of new, reply and merge")
	fs.StringVar(&rcpts, "rcpt", "demo@demo.sobot.com", "recipients, comma-separated, used in turn")
	fs.IntVar(&o.FromDomains, "from-domains", 50, "number of sender domains")
	fs.StringVar(&o.Helo, "helo", "mxload.test", "EHLO name")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "dial and per-reply timeout")
	asJSON := fs.Bool("json", false, "print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mxload: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var err error
	if o.Mix, err = ParseMix(mix); err != nil {
		fmt.Fprintf(stderr, "mxload: -mix: %v\n", err)
		return 2
	}
	for _, r := range strings.Split(rcpts, ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.Rcpts = append(o.Rcpts, r)
		}
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "mxload: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "mxload: %v\n", err)
		return 1
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	} else {
		res.Print(stdout)
	}
	if res.Sent == 0 {
		return 1
	}
	return 0
}
