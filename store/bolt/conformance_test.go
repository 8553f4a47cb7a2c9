package bolt_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sobot/ticketmx/store"
	"github.com/sobot/ticketmx/store/bolt"
	"github.com/sobot/ticketmx/store/storetest"
	bbolt "go.etcd.io/bbolt"
)

// TestConformance runs the store contract's suite against the bbolt
// engine, one file per subtest, and checks each file's consistency with
// bbolt's own checker when its subtest ends.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		path := filepath.Join(t.TempDir(), "tickets.db")
		st, err := bolt.Open(path, bolt.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			checkFile(t, path)
		})
		return st
	})
}

// checkFile runs bbolt's consistency check on a closed store file.
func checkFile(t *testing.T, path string) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Errorf("reopen %s for its check: %v", path, err)
		return
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("consistency of %s: %v", path, err)
		}
		return nil
	})
}
