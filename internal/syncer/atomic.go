// atomic.go writes a ConfigMap's (or Secret's) keys as files so that an app never reads
// half a configuration, the way the kubelet updates volumes: the files go into a fresh
// hidden directory, a symlink ..data is swapped to it in one rename, and each key is a
// symlink through ..data. Keys that would escape the directory, collide, or cannot be
// written are refused before anything visible changes. The directory may be shared with
// an app that can write it, so nothing found there is trusted: only directories with
// the name cuscon gives versions are ever removed, and no link is followed for a write.

package syncer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// dataLink is the symlink that always points at the current version's directory.
const dataLink = "..data"

// hashFile, beside the files, remembers the content hash of what was last written.
const hashFile = "..cuscon-hash"

// atomicWriter writes versions of a set of files into dir.
type atomicWriter struct {
	dir string
	// fileMode and dirMode are the permissions of what is written (0600/0700 for Secrets).
	fileMode, dirMode os.FileMode
}

// validateKeys refuses keys that are not plain relative paths inside the directory
// (absolute, with a .. element, starting with "..", empty), and keys that collide with
// each other (the same path twice, or a file that another key needs as a directory).
func validateKeys(files map[string][]byte) error {
	var problems []string
	paths := make([]string, 0, len(files))
	for k := range files {
		clean := filepath.Clean(k)
		switch {
		case k == "" || clean == ".":
			problems = append(problems, fmt.Sprintf("%q: empty", k))
		case filepath.IsAbs(k):
			problems = append(problems, fmt.Sprintf("%q: absolute path", k))
		case strings.HasPrefix(k, ".."):
			problems = append(problems, fmt.Sprintf("%q: starts with ..", k))
		case slices.Contains(strings.Split(k, "/"), "..") || clean != k:
			problems = append(problems, fmt.Sprintf("%q: not a plain path inside the directory", k))
		default:
			paths = append(paths, clean)
		}
	}
	slices.Sort(paths)
	for i := 1; i < len(paths); i++ {
		if strings.HasPrefix(paths[i], paths[i-1]+"/") {
			problems = append(problems, fmt.Sprintf("%q and %q collide: one needs the other as a directory", paths[i-1], paths[i]))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("unsafe keys, nothing written: %s", strings.Join(problems, "; "))
	}
	return nil
}

// write makes files the directory's content, atomically; hash is recorded beside them.
func (w *atomicWriter) write(files map[string][]byte, hash string) error {
	if err := validateKeys(files); err != nil {
		return err
	}
	if err := os.MkdirAll(w.dir, w.dirMode); err != nil {
		return fmt.Errorf("create %s: %w", w.dir, err)
	}
	if err := w.checkVisible(files); err != nil {
		return err
	}
	version, err := w.writeVersion(files)
	if err != nil {
		return err
	}
	tmp := filepath.Join(w.dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(version, tmp); err != nil {
		os.RemoveAll(filepath.Join(w.dir, version))
		return fmt.Errorf("link new version: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, dataLink)); err != nil {
		os.Remove(tmp)
		os.RemoveAll(filepath.Join(w.dir, version))
		return fmt.Errorf("swap to new version: %w", err)
	}
	// From here the new version is what the app reads; what follows tidies up.
	return errors.Join(w.linkVisible(files), w.writeHash(hash), w.removeStale())
}

// versionPrefix starts the name of every version directory cuscon writes.
const versionPrefix = "..cuscon_"

// isVersion reports whether name is one cuscon gives a version directory: anything
// else in the directory (a planted "..data" target such as ".", "..", "/etc") is not
// cuscon's to remove.
func isVersion(name string) bool {
	return strings.HasPrefix(name, versionPrefix) && !strings.ContainsAny(name, "/\\") && filepath.Base(name) == name
}

// removeStale removes the version directories that ..data does not point at: the one
// just replaced, and those left by a cuscon killed mid-write. Only real directories with
// a version's name, directly inside the directory, are removed.
func (w *atomicWriter) removeStale() error {
	current, _ := os.Readlink(filepath.Join(w.dir, dataLink))
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if name := e.Name(); isVersion(name) && name != current && e.Type().IsDir() {
			errs = append(errs, os.RemoveAll(filepath.Join(w.dir, name)))
		}
	}
	return errors.Join(errs...)
}

// writeHash records hash beside the files: into a new file renamed over the old name,
// so that a link planted at that name is replaced, never followed.
func (w *atomicWriter) writeHash(hash string) error {
	f, err := os.CreateTemp(w.dir, hashFile+".tmp")
	if err != nil {
		return err
	}
	_, err = f.WriteString(hash + "\n")
	err = errors.Join(err, f.Chmod(w.fileMode), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(w.dir, hashFile))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// writeVersion writes files into a fresh hidden directory and returns its name.
func (w *atomicWriter) writeVersion(files map[string][]byte) (string, error) {
	version, err := os.MkdirTemp(w.dir, versionPrefix+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return "", fmt.Errorf("create version directory: %w", err)
	}
	if err := os.Chmod(version, w.dirMode); err != nil {
		os.RemoveAll(version)
		return "", err
	}
	for k, content := range files {
		p := filepath.Join(version, k)
		err := os.MkdirAll(filepath.Dir(p), w.dirMode)
		if err == nil {
			err = os.WriteFile(p, content, w.fileMode)
		}
		if err != nil {
			os.RemoveAll(version)
			return "", fmt.Errorf("write %s: %w", k, err)
		}
	}
	return filepath.Base(version), nil
}

// topLevel returns the first path element of each key, the names the app sees.
func topLevel(files map[string][]byte) map[string]bool {
	top := map[string]bool{}
	for k := range files {
		first, _, _ := strings.Cut(k, "/")
		top[first] = true
	}
	return top
}

// checkVisible refuses to replace anything in the directory that cuscon did not write:
// a visible name that exists must be a symlink into ..data.
func (w *atomicWriter) checkVisible(files map[string][]byte) error {
	for name := range topLevel(files) {
		target, err := os.Readlink(filepath.Join(w.dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil || target != filepath.Join(dataLink, name):
			return fmt.Errorf("%s already exists and was not written by cuscon; nothing written", filepath.Join(w.dir, name))
		}
	}
	return nil
}

// linkVisible points a symlink name → ..data/name at each key's top-level name and
// removes those of keys that are gone.
func (w *atomicWriter) linkVisible(files map[string][]byte) error {
	top := topLevel(files)
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		target, err := os.Readlink(filepath.Join(w.dir, name))
		if err == nil && target == filepath.Join(dataLink, name) && !top[name] {
			errs = append(errs, os.Remove(filepath.Join(w.dir, name)))
		}
	}
	for name := range top {
		link := filepath.Join(w.dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		errs = append(errs, os.Symlink(filepath.Join(dataLink, name), link))
	}
	return errors.Join(errs...)
}

// lastHash returns the content hash recorded by the last write, or "" (also when the
// name is not a regular file: a link is not followed).
func (w *atomicWriter) lastHash() string {
	p := filepath.Join(w.dir, hashFile)
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
