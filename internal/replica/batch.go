package replica

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Concurrent Puts and Deletes share one transaction (and one
// fsync): they queue while a commit is in flight, and the next commit
// takes every write that is waiting. bbolt's own db.Batch did the same,
// but it commits on a goroutine of its own (a timer's), where a panic of
// bbolt on a damaged page ended the process; the store's writer goroutine
// commits under guard, so such a panic is an error for the writes of that
// commit. The writer starts with Open and Close waits for it.

// maxBatchCalls bounds the writes one commit takes.
const maxBatchCalls = 1000

// errClosed answers a write to a closed store.
var errClosed = errors.New("replica: the store is closed")

// wcall is one write waiting for a commit.
type wcall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// batch runs fn in a write transaction shared with the other writes
// waiting, and returns once it is committed (or failed). fn may run more
// than once (when another write of its transaction fails, the others run
// again without it), so it must set its results afresh on each run.
func (s *Store) batch(fn func(*bolt.Tx) error) error {
	c := &wcall{fn: fn, done: make(chan error, 1)}
	select {
	case s.wq <- c:
	case <-s.wstop:
		return errClosed
	}
	return <-c.done
}

// writer commits the waiting writes until Close.
func (s *Store) writer() {
	defer close(s.wdone)
	for {
		var calls []*wcall
		select {
		case c := <-s.wq:
			calls = append(calls, c)
		case <-s.wstop:
			return
		}
	drain:
		for len(calls) < maxBatchCalls {
			select {
			case c := <-s.wq:
				calls = append(calls, c)
			default:
				break drain
			}
		}
		s.commitCalls(calls)
	}
}

// commitCalls runs calls in one transaction and answers each. A call that
// returns an error gets it (what it wrote is rolled back) and the others
// run again without it; a failed commit or a panic (guard) is the answer
// of every call in it.
func (s *Store) commitCalls(calls []*wcall) {
	for len(calls) > 0 {
		failed, ferr := -1, error(nil)
		err := s.update("a write", func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := c.fn(tx); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if failed >= 0 && errors.Is(err, ferr) {
			calls[failed].done <- ferr
			calls = append(calls[:failed], calls[failed+1:]...)
			continue
		}
		for _, c := range calls {
			c.done <- err
		}
		return
	}
}

// stopWriter ends the writer once the writes it took are answered; later
// writes get errClosed.
func (s *Store) stopWriter() {
	s.wonce.Do(func() {
		close(s.wstop)
		<-s.wdone
	})
}
