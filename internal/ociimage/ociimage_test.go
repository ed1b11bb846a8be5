package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cusconImage is what hack/image.sh must build.
func cusconImage(revision string) Want {
	return Want{
		Platforms: []string{"amd64", "arm64"},
		Binary:    "/cuscon",
		ZoneInfo:  "/zoneinfo.zip",
		Labels: map[string]string{
			"org.opencontainers.image.source":   "",
			"org.opencontainers.image.version":  "",
			"org.opencontainers.image.revision": revision,
		},
		MaxBinary: 8 << 20, // issue 6: the static binary under 8 MiB
		MaxLayers: 4 << 20,
	}
}

// TestBuiltImage checks the archive hack/image.sh wrote; CI sets CUSCON_IMAGE_ARCHIVE
// after running it.
func TestBuiltImage(t *testing.T) {
	archive := os.Getenv("CUSCON_IMAGE_ARCHIVE")
	if archive == "" {
		t.Skip("CUSCON_IMAGE_ARCHIVE is not set: run hack/image.sh, then point it at dist/cuscon.oci.tar")
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	images, err := Read(archive)
	require.NoError(t, err)
	require.Empty(t, Check(images, cusconImage(strings.TrimSpace(string(rev)))))
	for _, img := range images {
		var layers int64
		for _, n := range img.Layers {
			layers += n
		}
		t.Logf("%s/%s: user %s, entrypoint %v, binary %.1f MiB, layers %.1f MiB compressed, version %s",
			img.OS, img.Architecture, img.Config.User, img.Config.Entrypoint,
			float64(img.Files["/cuscon"].Size)/(1<<20), float64(layers)/(1<<20),
			img.Config.Labels["org.opencontainers.image.version"])
	}
}

// testImage is an image to write into a synthetic archive.
type testImage struct {
	arch   string
	config Config
	files  map[string][]byte
}

// goodImage is cuscon's image as it should be, with a fake static binary.
func goodImage(arch string) testImage {
	return testImage{
		arch: arch,
		config: Config{User: "65532:65532", Entrypoint: []string{"/cuscon"}, Labels: map[string]string{
			"org.opencontainers.image.source":   "https://example.test/cuscon",
			"org.opencontainers.image.version":  "v1",
			"org.opencontainers.image.revision": "abc",
		}, Env: []string{"PATH=/", "ZONEINFO=/zoneinfo.zip"}},
		files: map[string][]byte{"cuscon": fakeELF(machines[arch], false), "zoneinfo.zip": []byte("PK\x05\x06")},
	}
}

func TestCheckRefusesWhatIsNotCusconsImage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*testImage)
		want   string
	}{
		{"as built", func(*testImage) {}, ""},
		{"root", func(i *testImage) { i.config.User = "0:0" }, "is root"},
		{"user by name", func(i *testImage) { i.config.User = "nonroot" }, "not numeric"},
		{"no user", func(i *testImage) { i.config.User = "" }, "not numeric"},
		{"shell entrypoint", func(i *testImage) { i.config.Entrypoint = []string{"/bin/sh", "-c"} }, "entrypoint"},
		{"extra file", func(i *testImage) { i.files["bin/sh"] = []byte("#!") }, "unexpected file /bin/sh"},
		{"no zone data", func(i *testImage) { delete(i.files, "zoneinfo.zip") }, "no /zoneinfo.zip"},
		{"zone data not pointed at", func(i *testImage) { i.config.Env = nil }, "ZONEINFO=/zoneinfo.zip is not in the environment"},
		{"no revision", func(i *testImage) { delete(i.config.Labels, "org.opencontainers.image.revision") }, "label org.opencontainers.image.revision missing"},
		{"wrong revision", func(i *testImage) { i.config.Labels["org.opencontainers.image.revision"] = "def" }, `want "abc"`},
		{"dynamic binary", func(i *testImage) { i.files["cuscon"] = fakeELF(elf.EM_X86_64, true) }, "dynamically linked"},
		{"not a binary", func(i *testImage) { i.files["cuscon"] = []byte("#!/bin/sh") }, "built for"},
		{"too big", func(i *testImage) { i.files["cuscon"] = append(fakeELF(elf.EM_X86_64, false), make([]byte, 9<<20)...) }, "bytes, want at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			amd, arm := goodImage("amd64"), goodImage("arm64")
			tc.mutate(&amd)
			images, err := Read(writeArchive(t, amd, arm))
			require.NoError(t, err)
			problems := Check(images, cusconImage("abc"))
			if tc.want == "" {
				require.Empty(t, problems)
				return
			}
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}
}

func TestCheckWantsBothArchitectures(t *testing.T) {
	images, err := Read(writeArchive(t, goodImage("amd64")))
	require.NoError(t, err)
	require.Equal(t, []string{"architectures [amd64], want [amd64 arm64]"}, Check(images, cusconImage("abc")))

	wrong := goodImage("arm64")
	wrong.files["cuscon"] = fakeELF(elf.EM_X86_64, false) // an amd64 binary in the arm64 image
	images, err = Read(writeArchive(t, goodImage("amd64"), wrong))
	require.NoError(t, err)
	require.Contains(t, strings.Join(Check(images, cusconImage("abc")), "\n"), "linux/arm64: /cuscon is built for EM_X86_64")
}

// fakeELF is a 64-bit little-endian ELF header for machine, with one PT_INTERP program
// header if dynamic: enough for debug/elf to tell the machine and the linking.
func fakeELF(machine elf.Machine, dynamic bool) []byte {
	var b bytes.Buffer
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: 1, Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	if dynamic {
		h.Phoff, h.Phentsize, h.Phnum = 64, 56, 1
	}
	_ = binary.Write(&b, binary.LittleEndian, h)
	if dynamic {
		_ = binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_INTERP)})
	}
	return b.Bytes()
}

// writeArchive writes images as an OCI archive with a nested index, as buildah does.
func writeArchive(t *testing.T, images ...testImage) string {
	t.Helper()
	blobs := map[string][]byte{}
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs["blobs/sha256/"+hex.EncodeToString(sum[:])] = b
		return d
	}
	desc := func(mediaType string, b []byte) map[string]any {
		return map[string]any{"mediaType": mediaType, "digest": put(b), "size": len(b)}
	}
	mustJSON := func(v any) []byte { b, err := json.Marshal(v); require.NoError(t, err); return b }
	var manifests []map[string]any
	for _, img := range images {
		cfg := mustJSON(map[string]any{"os": "linux", "architecture": img.arch, "config": img.config})
		var layer bytes.Buffer
		zw := gzip.NewWriter(&layer)
		tw := tar.NewWriter(zw)
		for name, content := range img.files {
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}))
			_, err := tw.Write(content)
			require.NoError(t, err)
		}
		require.NoError(t, tw.Close())
		require.NoError(t, zw.Close())
		m := mustJSON(map[string]any{"schemaVersion": 2, "mediaType": manifestType,
			"config": desc("application/vnd.oci.image.config.v1+json", cfg),
			"layers": []any{desc("application/vnd.oci.image.layer.v1.tar+gzip", layer.Bytes())}})
		manifests = append(manifests, desc(manifestType, m))
	}
	index := mustJSON(map[string]any{"schemaVersion": 2, "mediaType": indexType, "manifests": manifests})
	blobs["index.json"] = mustJSON(map[string]any{"schemaVersion": 2, "manifests": []any{desc(indexType, index)}})

	file := filepath.Join(t.TempDir(), "image.oci.tar")
	f, err := os.Create(file)
	require.NoError(t, err)
	tw := tar.NewWriter(f)
	for name, b := range blobs {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, f.Close())
	return file
}
