package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
)

func (c *ctl) reload() error {
	var out struct {
		OK bool `json:"ok"`
	}
	if printed, err := c.callJSON(http.MethodPost, ctlURL(nil, "v1", "reload"), nil, &out); printed || err != nil {
		if err != nil {
			return fmt.Errorf("reload refused: %w", err)
		}
		return nil
	}
	_, err := fmt.Fprintln(c.stdout, "config reloaded")
	return err
}

// stats prints the counters as JSON: unchanged with --json, indented
// otherwise.
func (c *ctl) stats() error {
	data, err := c.call(http.MethodGet, ctlURL(nil, "v1", "stats"), nil)
	if err != nil {
		return err
	}
	if c.json {
		_, err := c.stdout.Write(data)
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(data), "", "  "); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	buf.WriteByte('\n')
	_, err = c.stdout.Write(buf.Bytes())
	return err
}

// backup streams GET /v1/backup into file.tmp, syncs it and renames it to
// file, so file is a whole copy or untouched.
func (c *ctl) backup(file string) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	resp, err := c.do(ctx, http.MethodGet, ctlURL(nil, "v1", "backup"), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, resp.Body)
	if err != nil {
		return fmt.Errorf("backup: transfer cut off after %d bytes (%w); %s not written", n, err, file)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if d, derr := os.Open(filepath.Dir(file)); derr == nil {
		_ = d.Sync() // make the rename durable; best effort
		d.Close()
	}
	if c.json {
		return json.NewEncoder(c.stdout).Encode(map[string]any{"file": file, "bytes": n})
	}
	_, err = fmt.Fprintf(c.stdout, "wrote %d bytes (%s) to %s\n", n, ctlSize(n), file)
	return err
}
