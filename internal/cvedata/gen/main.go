// Command gen selects the bundled CVE subset from the full Vulnrichment
// extract and writes it, with the matching CISA KEV entries, next to the
// cvedata package:
//
//	go run ./internal/cvedata/gen -src /work/shared/data/cves.jsonl.gz \
//	    -kev internal/intel/data/kev.json -o internal/cvedata/cves.jsonl.gz
//
// Selection (README.md explains why): a record is kept when it is PUBLISHED,
// affects a product of cvedata.Catalog, and either has a CVSS metric or is
// known exploited (in kev.json, or with a Vulnrichment kev metric, or with
// SSVC exploitation poc or active). Source lines are copied byte for byte, in
// source order, so the output is deterministic for a given input.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vulnpilot/vulnpilot/internal/cvedata"
)

func main() {
	src := flag.String("src", "/work/shared/data/cves.jsonl.gz", "full Vulnrichment extract (JSONL, optionally gzipped)")
	kevPath := flag.String("kev", "internal/intel/data/kev.json", "CISA KEV catalog (kev.json)")
	out := flag.String("o", "internal/cvedata/cves.jsonl.gz", "output JSONL.gz; kev.json is written next to it")
	flag.Parse()
	if err := run(*src, *kevPath, *out); err != nil {
		slog.Error("gen failed", "err", err)
		os.Exit(1)
	}
}

type stats struct {
	kept, kev, active, poc, noCVSS int
	perKey                         map[string]int
}

func run(src, kevPath, out string) error {
	kevRaw, err := os.ReadFile(kevPath)
	if err != nil {
		return err
	}
	kev, err := cvedata.ReadKEV(bytes.NewReader(kevRaw))
	if err != nil {
		return fmt.Errorf("%s: %w", kevPath, err)
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(src, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		in = zr
	}

	catalog := cvedata.Catalog()
	st := stats{perKey: map[string]int{}}
	var body bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&body, gzip.BestCompression)
	keptKEV := map[string]bool{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var r cvedata.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("%s: line %d: %w", src, line, err)
		}
		if r.State != "PUBLISHED" {
			continue
		}
		var keys []string
		for _, s := range catalog {
			if s.Matches(r) {
				keys = append(keys, s.Key)
			}
		}
		if len(keys) == 0 {
			continue
		}
		_, inKEV := kev.Entries[r.ID]
		inKEV = inKEV || r.KEVDateAdded != ""
		exploited := inKEV || (r.SSVC != nil && (r.SSVC.Exploitation == "active" || r.SSVC.Exploitation == "poc"))
		if r.CVSS == nil && !exploited {
			continue
		}
		if r.CVSS == nil {
			st.noCVSS++
		}
		if _, err := zw.Write(append(slices.Clone(raw), '\n')); err != nil {
			return err
		}
		st.kept++
		if inKEV {
			st.kev++
		}
		if _, ok := kev.Entries[r.ID]; ok {
			keptKEV[r.ID] = true
		}
		if r.SSVC != nil {
			switch r.SSVC.Exploitation {
			case "active":
				st.active++
			case "poc":
				st.poc++
			}
		}
		for _, k := range keys {
			st.perKey[k]++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if st.kept == 0 {
		return errors.New("no record selected")
	}

	kevOut, err := kevSubset(kevRaw, keptKEV)
	if err != nil {
		return err
	}
	if err := writeAtomic(out, body.Bytes()); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(filepath.Dir(out), "kev.json"), kevOut); err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "kept %d records (%d in KEV, %d of them in kev.json; SSVC active %d, poc %d; %d exploited without CVSS), %d bytes gz\n",
		st.kept, st.kev, len(keptKEV), st.active, st.poc, st.noCVSS, body.Len())
	keys := make([]string, 0, len(st.perKey))
	for k := range st.perKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(os.Stderr, "  %-20s %d\n", k, st.perKey[k])
	}
	return nil
}

// kevSubset rewrites the KEV catalog keeping only the entries of kept CVEs,
// each entry's values unchanged, in catalog order.
func kevSubset(raw []byte, keep map[string]bool) ([]byte, error) {
	var f struct {
		Title           string            `json:"title"`
		CatalogVersion  string            `json:"catalogVersion"`
		DateReleased    string            `json:"dateReleased"`
		Count           int               `json:"count"`
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	var kept []json.RawMessage
	for _, v := range f.Vulnerabilities {
		var id struct {
			CVE string `json:"cveID"`
		}
		if err := json.Unmarshal(v, &id); err != nil {
			return nil, err
		}
		if keep[id.CVE] {
			kept = append(kept, v)
		}
	}
	f.Vulnerabilities = kept
	f.Count = len(kept)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
