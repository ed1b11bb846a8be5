// atomic_test.go proves the atomic writer: versions swapped in one rename, gone keys
// removed, unsafe or colliding keys refused with the old files kept; and that it trusts
// nothing it finds in a directory the app can write: a planted ..data link never makes
// it remove anything outside its own versions, a planted ..cuscon-hash link is replaced,
// not followed, and the versions a killed cuscon left are cleaned at start.

package syncer

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"cuscon/internal/telemetry"
)

func newTestWriter(t *testing.T) (*atomicWriter, string) {
	dir := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.Mkdir(dir, 0o755))
	return &atomicWriter{dir: dir, fileMode: 0o644, dirMode: 0o755}, dir
}

func TestUnsafeOrCollidingKeysAreRefusedAndTheOldFilesStay(t *testing.T) {
	dir := t.TempDir()
	w := &atomicWriter{dir: dir, fileMode: 0o644, dirMode: 0o755}
	require.NoError(t, w.write(map[string][]byte{"app.conf": []byte("good")}, "h1"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mine.txt"), []byte("the app's own"), 0o644))
	for name, files := range map[string]map[string][]byte{
		"parent":        {"../escape": nil},
		"absolute":      {"/etc/passwd": nil},
		"dotdot inside": {"a/../../b": nil},
		"hidden data":   {"..data": nil},
		"empty":         {"": nil},
		"file and dir":  {"a": nil, "a/b": nil},
		"not ours":      {"mine.txt": []byte("overwritten?")},
	} {
		files["app.conf"] = []byte("bad")
		assert.Error(t, w.write(files, "h2"), name)
		assert.Equal(t, "good", read(dir, "app.conf"), "%s: the previous configuration stays", name)
	}
	assert.Equal(t, "the app's own", read(dir, "mine.txt"))
	assert.Equal(t, "h1", w.lastHash())
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 5, "..data, its version, app.conf, the hash, mine.txt: no half-written version left")
}

func TestAtomicWriterSwapsVersionsAndRemovesGoneKeys(t *testing.T) {
	dir := t.TempDir()
	w := &atomicWriter{dir: dir, fileMode: 0o644, dirMode: 0o755}
	require.NoError(t, w.write(map[string][]byte{"a.conf": []byte("a1"), "b.conf": []byte("b1")}, "h1"))
	first, err := os.Readlink(filepath.Join(dir, dataLink))
	require.NoError(t, err)
	require.NoError(t, w.write(map[string][]byte{"a.conf": []byte("a2"), "c.conf": []byte("c2")}, "h2"))

	assert.Equal(t, "a2", read(dir, "a.conf"))
	assert.Equal(t, "c2", read(dir, "c.conf"))
	_, err = os.Lstat(filepath.Join(dir, "b.conf"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a key that is gone is removed")
	_, err = os.Stat(filepath.Join(dir, first))
	assert.ErrorIs(t, err, os.ErrNotExist, "the old version is removed")
	target, _ := os.Readlink(filepath.Join(dir, "a.conf"))
	assert.Equal(t, filepath.Join(dataLink, "a.conf"), target, "each key reads through ..data, swapped in one rename")
	assert.Equal(t, "h2", w.lastHash())
}

func TestAPlantedDataLinkRemovesNothingOutsideCusconsVersions(t *testing.T) {
	for _, target := range []string{"OUTSIDE", ".", "..", "..data", "victim"} {
		t.Run(target, func(t *testing.T) {
			w, dir := newTestWriter(t)
			outside := filepath.Join(filepath.Dir(dir), "precious")
			require.NoError(t, os.MkdirAll(outside, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(outside, "keep"), []byte("mine"), 0o644))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "victim"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "victim", "keep"), []byte("app's"), 0o644))
			if target == "OUTSIDE" {
				target = outside
			}
			require.NoError(t, os.Symlink(target, filepath.Join(dir, dataLink)))

			require.NoError(t, w.write(map[string][]byte{"app.conf": []byte("v1")}, "h1"))
			assert.Equal(t, "v1", read(dir, "app.conf"), "the config just written is there")
			assert.Equal(t, "mine", read(outside, "keep"), "nothing outside the directory removed")
			assert.Equal(t, "app's", read(filepath.Join(dir, "victim"), "keep"), "nothing that is not a cuscon version removed")
		})
	}
}

func TestAPlantedHashLinkIsReplacedNotFollowed(t *testing.T) {
	w, dir := newTestWriter(t)
	victim := filepath.Join(filepath.Dir(dir), "passwd")
	require.NoError(t, os.WriteFile(victim, []byte("root:x:0:0"), 0o644))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, hashFile)))
	assert.Empty(t, w.lastHash(), "a link is not read as the hash")

	require.NoError(t, w.write(map[string][]byte{"app.conf": []byte("v1")}, "h1"))
	assert.Equal(t, "root:x:0:0", read(filepath.Dir(dir), "passwd"), "the link's target is untouched")
	fi, err := os.Lstat(filepath.Join(dir, hashFile))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "the link was replaced by the hash file")
	assert.Equal(t, "h1", w.lastHash())
}

func TestVersionsLeftByAKilledCusconAreCleanedAtStart(t *testing.T) {
	w, dir := newTestWriter(t)
	require.NoError(t, w.write(map[string][]byte{"app.conf": []byte("v1")}, "h1"))
	current, err := os.Readlink(filepath.Join(dir, dataLink))
	require.NoError(t, err)
	for _, stale := range []string{versionPrefix + "2026_01_01_00_00_00.1", versionPrefix + "2026_01_01_00_00_00.2"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, stale, "sub"), 0o755))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "..2026_01_01_00_00_00.3"), 0o755)) // not cuscon's name: kept

	log, _ := telemetry.NewLogger(io.Discard, "text", 0)
	s := newSyncer(log, telemetry.NewMetrics("test"), dir, false)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{dataLink, hashFile, "app.conf", current, "..2026_01_01_00_00_00.3"}, names)
	assert.Equal(t, "h1", s.onDisk, "the content already there is still known")
}

func TestOnlyCusconsVersionNamesAreItsToRemove(t *testing.T) {
	for name, want := range map[string]bool{
		versionPrefix + "2026_11_23_10_00_00.123": true,
		".":                       false,
		"..":                      false,
		"/etc":                    false,
		"../x":                    false,
		versionPrefix + "/../x":   false,
		"..2026_11_23_10_00_00.1": false,
		"app.conf":                false,
	} {
		assert.Equal(t, want, isVersion(name), name)
	}
}
