package pgtest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that notes Skip and Fatal instead of ending the
// test.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper()               {}
func (r *recorder) Skip(args ...any)      { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any)     { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Cleanup(func())        { panic("pgtest: started a server without PostgreSQL") }
func (r *recorder) Fatalf(string, ...any) { panic("pgtest: Fatalf without PostgreSQL") }

func TestMissingPostgres(t *testing.T) {
	old := binGlob
	binGlob = "/nonexistent/postgresql/*/bin/initdb"
	t.Cleanup(func() { binGlob = old })

	for _, require := range []string{"", "1"} {
		t.Setenv("TICKETMX_REQUIRE_POSTGRES", require)
		for name, call := range map[string]func(testing.TB){
			"NewDatabase": func(tb testing.TB) { NewDatabase(tb) },
			"StartServer": func(tb testing.TB) { StartServer(tb) },
		} {
			r := &recorder{TB: t}
			call(r)
			got := r.skipped
			if require == "1" {
				got = r.fatal
			}
			if !strings.HasPrefix(got, "pgtest: PostgreSQL not installed (") ||
				!strings.Contains(got, "install Debian's postgresql package") {
				t.Errorf("%s, TICKETMX_REQUIRE_POSTGRES=%q: skipped %q, fatal %q", name, require, r.skipped, r.fatal)
			}
		}
	}
}
