package main

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchConfig reloads when the config file changes. It watches the folder,
// not the file: editors and config-management tools replace a file by
// renaming a new one over it, which ends a watch on the old inode. Events
// are debounced so one save is one reload.
func (d *daemon) watchConfig() (stop func(), err error) {
	if d.path == "" {
		return func() {}, nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(d.path)
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		var timer <-chan time.Time
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					timer = time.After(200 * time.Millisecond)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				d.log.Warn("config watch", "err", err)
			case <-timer:
				timer = nil
				_ = d.reload("file change")
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); w.Close() }) }, nil
}
