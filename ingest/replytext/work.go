package replytext

// workCounter counts the steps Extract takes: bytes its detectors read or
// copy, lines and nodes its loops visit, bytes it hands to x/net/html and
// mailparse. A test sets work to count them and tell linear growth from
// worse without a clock (see the bound in doc.go); production leaves it
// nil.
type workCounter struct{ steps int64 }

// work is nil except while a test counts. Package state, so the tests
// that set it do not run in parallel.
var work *workCounter

// spend adds n steps to the count, if one is being taken. Inlined, its
// cost in production is the nil test.
func spend(n int) {
	if work != nil {
		work.steps += int64(n)
	}
}
