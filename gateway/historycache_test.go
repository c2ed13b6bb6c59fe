package gateway

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestCacheID(t *testing.T) {
	open := func(t *testing.T, db *bolt.DB) string {
		t.Helper()
		var id string
		if err := db.Update(func(tx *bolt.Tx) error {
			var err error
			id, err = openCache(tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	newDB := func(t *testing.T) *bolt.DB {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "kv.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	t.Run("new cache: random, kept", func(t *testing.T) {
		db := newDB(t)
		id := open(t, db)
		if len(id) != 16 || open(t, db) != id {
			t.Fatalf("id %q, then %q", id, open(t, db))
		}
		if other := open(t, newDB(t)); other == id {
			t.Fatalf("two caches share the id %q", id)
		}
	})
	t.Run("cache made before the id: keeps the bare source", func(t *testing.T) {
		db := newDB(t)
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketHistCache)
			if err != nil {
				return err
			}
			_, err = b.NextSequence()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if id := open(t, db); id != "" || open(t, db) != "" {
			t.Fatalf("id %q for an old cache, want none (its points keep their source)", id)
		}
	})
}
