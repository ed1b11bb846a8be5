// Package ociimage reads an OCI image archive (what hack/image.sh writes to
// dist/cuscon.oci.tar) and checks that each image in it is cuscon's image as the
// Dockerfile describes it: a non-root numeric user, /cuscon as the entrypoint, the OCI
// labels, one layer holding nothing but a static binary for the image's architecture,
// and a bounded size. CI runs the check on the image it has just built.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Image is one platform's image in the archive.
type Image struct {
	OS, Architecture string
	Config           Config
	// Layers are the layers' compressed sizes in bytes.
	Layers []int64
	// Files maps each path in the layers to its entry.
	Files map[string]File
}

// Config is the part of the image configuration that is checked.
type Config struct {
	User       string            `json:"User"`
	Entrypoint []string          `json:"Entrypoint"`
	Cmd        []string          `json:"Cmd"`
	Labels     map[string]string `json:"Labels"`
	Env        []string          `json:"Env"`
}

// File is one entry of a layer.
type File struct {
	Mode int64
	Type byte
	Size int64
	// Machine is the ELF machine of an executable file, or 0; Static is true when the
	// executable asks for no interpreter (no dynamic loader, no libc).
	Machine elf.Machine
	Static  bool
}

// descriptor points at a blob of the archive.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

const (
	indexType    = "application/vnd.oci.image.index.v1+json"
	manifestType = "application/vnd.oci.image.manifest.v1+json"
)

// Read returns every image of the OCI archive at file, following nested indexes.
func Read(file string) ([]Image, error) {
	blobs, err := readTar(file)
	if err != nil {
		return nil, err
	}
	top, ok := blobs["index.json"]
	if !ok {
		return nil, errors.New("no index.json: not an OCI archive")
	}
	var images []Image
	var walk func(index []byte) error
	walk = func(index []byte) error {
		var idx struct {
			Manifests []descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(index, &idx); err != nil {
			return fmt.Errorf("index: %w", err)
		}
		for _, d := range idx.Manifests {
			b, err := blob(blobs, d.Digest)
			if err != nil {
				return err
			}
			switch d.MediaType {
			case indexType:
				if err := walk(b); err != nil {
					return err
				}
			case manifestType:
				img, err := readImage(blobs, b)
				if err != nil {
					return fmt.Errorf("manifest %s: %w", d.Digest, err)
				}
				images = append(images, img)
			default:
				return fmt.Errorf("unexpected media type %q", d.MediaType)
			}
		}
		return nil
	}
	if err := walk(top); err != nil {
		return nil, err
	}
	return images, nil
}

// readImage reads the configuration and layers one manifest names.
func readImage(blobs map[string][]byte, manifest []byte) (Image, error) {
	var m struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return Image{}, err
	}
	b, err := blob(blobs, m.Config.Digest)
	if err != nil {
		return Image{}, err
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Config       Config `json:"config"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return Image{}, fmt.Errorf("config: %w", err)
	}
	img := Image{OS: cfg.OS, Architecture: cfg.Architecture, Config: cfg.Config, Files: map[string]File{}}
	for _, l := range m.Layers {
		b, err := blob(blobs, l.Digest)
		if err != nil {
			return Image{}, err
		}
		img.Layers = append(img.Layers, int64(len(b)))
		if err := readLayer(b, l.MediaType, img.Files); err != nil {
			return Image{}, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	return img, nil
}

// readLayer adds the entries of one (gzip-compressed or plain) layer tar to files.
func readLayer(b []byte, mediaType string, files map[string]File) error {
	var r io.Reader = bytes.NewReader(b)
	if strings.HasSuffix(mediaType, "+gzip") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		f := File{Mode: h.Mode, Type: h.Typeflag, Size: h.Size}
		if h.Typeflag == tar.TypeReg {
			content, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if e, err := elf.NewFile(bytes.NewReader(content)); err == nil {
				f.Machine, f.Static = e.Machine, true
				for _, p := range e.Progs {
					f.Static = f.Static && p.Type != elf.PT_INTERP
				}
			}
		}
		files[path.Clean("/"+h.Name)] = f
	}
}

// blob returns the blob of digest "sha256:<hex>".
func blob(blobs map[string][]byte, digest string) ([]byte, error) {
	algo, hex, _ := strings.Cut(digest, ":")
	b, ok := blobs["blobs/"+algo+"/"+hex]
	if !ok {
		return nil, fmt.Errorf("blob %s missing", digest)
	}
	return b, nil
}

// readTar reads every regular file of the archive into memory, by path.
func readTar(file string) (map[string][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[path.Clean(h.Name)] = b
	}
}
