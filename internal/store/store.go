// Package store persists vulnpilot's state in an embedded SQLite file (pure
// Go driver, no cgo): the incremental-pull cache of Spotlight findings with
// its watermark, and the history of runs. Later stores (tickets, outbox,
// approvals, exceptions) add tables through the same migration list.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vulnpilot/vulnpilot/internal/falcon"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// migrations are applied in order, each once; never edit a released one.
var migrations = []string{
	`CREATE TABLE tenants (
		key        TEXT PRIMARY KEY,
		label      TEXT NOT NULL,
		watermark  TEXT NOT NULL DEFAULT '',
		updated_at TEXT NOT NULL
	);
	CREATE TABLE findings (
		tenant  TEXT NOT NULL,
		id      TEXT NOT NULL,
		aid     TEXT NOT NULL,
		cve     TEXT NOT NULL,
		updated TEXT NOT NULL,
		doc     BLOB NOT NULL,
		PRIMARY KEY (tenant, id)
	);
	CREATE TABLE host_facets (
		tenant TEXT NOT NULL,
		aid    TEXT NOT NULL,
		doc    BLOB NOT NULL,
		PRIMARY KEY (tenant, aid)
	);
	CREATE TABLE cve_facets (
		tenant TEXT NOT NULL,
		id     TEXT NOT NULL,
		doc    BLOB NOT NULL,
		PRIMARY KEY (tenant, id)
	);
	CREATE TABLE remediations (
		tenant TEXT NOT NULL,
		id     TEXT NOT NULL,
		doc    BLOB NOT NULL,
		PRIMARY KEY (tenant, id)
	);
	CREATE TABLE runs (
		id          TEXT PRIMARY KEY,
		tenant      TEXT NOT NULL,
		mode        TEXT NOT NULL,
		started_at  TEXT NOT NULL,
		finished_at TEXT NOT NULL,
		status      TEXT NOT NULL,
		pulled      INTEGER NOT NULL,
		findings    INTEGER NOT NULL,
		items       INTEGER NOT NULL,
		watermark   TEXT NOT NULL,
		summary     BLOB,
		error       TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX runs_tenant_started ON runs (tenant, started_at);`,
}

// Store is the SQLite state store. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("store: %s has schema version %d, newer than this vulnpilot (%d); upgrade vulnpilot", s.path, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, now()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Watermark returns the tenant's last fully stored updated_timestamp; ok is
// false when the tenant has never completed a pull.
func (s *Store) Watermark(ctx context.Context, tenant string) (wm time.Time, ok bool, err error) {
	var v string
	err = s.db.QueryRowContext(ctx, `SELECT watermark FROM tenants WHERE key = ?`, tenant).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && v == "") {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: watermark: %w", err)
	}
	wm, err = time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: corrupt watermark %q for tenant %s: %w", v, tenant, err)
	}
	return wm, true, nil
}

// Delta is one pull's changes. Apply stores it and moves the watermark in one
// transaction, so an interrupted run leaves the previous state intact and the
// next run pulls the same changes again.
type Delta struct {
	Tenant      string
	TenantLabel string // human label (cloud/base URL + client id), never a secret
	// Replace drops every cached finding first (a full pull).
	Replace   bool
	Upserts   []falcon.Finding
	Deletes   []string // finding ids that are closed/expired
	Watermark time.Time
}

type findingDoc struct {
	falcon.Finding
	// The facets live in their own tables: hide them from the row.
	Host         *struct{} `json:"host_info,omitempty"`
	CVEInfo      *struct{} `json:"cve_info,omitempty"`
	Remediations *struct{} `json:"remediations,omitempty"`
}

// Apply writes a Delta atomically.
func (s *Store) Apply(ctx context.Context, d Delta) error {
	if d.Tenant == "" {
		return errors.New("store: delta without tenant key")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer tx.Rollback()
	if d.Replace {
		for _, table := range []string{"findings", "host_facets", "cve_facets", "remediations"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE tenant = ?`, d.Tenant); err != nil {
				return fmt.Errorf("store: clear %s: %w", table, err)
			}
		}
	}
	upF, err := tx.PrepareContext(ctx, `INSERT INTO findings (tenant, id, aid, cve, updated, doc) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, id) DO UPDATE SET aid = excluded.aid, cve = excluded.cve, updated = excluded.updated, doc = excluded.doc`)
	if err != nil {
		return err
	}
	defer upF.Close()
	upFacet := func(table, key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO `+table+` (tenant, `+key+`, doc) VALUES (?, ?, ?)
			ON CONFLICT (tenant, `+key+`) DO UPDATE SET doc = excluded.doc`, d.Tenant, keyOf(v), b)
		return err
	}
	seenHost := map[string]bool{}
	seenCVE := map[string]bool{}
	seenRem := map[string]bool{}
	for i := range d.Upserts {
		f := &d.Upserts[i]
		if f.ID == "" {
			return fmt.Errorf("store: finding %d of the delta has no id", i)
		}
		doc, err := json.Marshal(findingDoc{Finding: *f})
		if err != nil {
			return err
		}
		if _, err := upF.ExecContext(ctx, d.Tenant, f.ID, f.AID, f.CVE, f.Updated.UTC().Format(time.RFC3339Nano), doc); err != nil {
			return fmt.Errorf("store: upsert finding %s: %w", f.ID, err)
		}
		if !seenHost[f.AID] {
			seenHost[f.AID] = true
			if err := upFacet("host_facets", "aid", hostRow{AID: f.AID, HostFacet: f.Host}); err != nil {
				return fmt.Errorf("store: host facet %s: %w", f.AID, err)
			}
		}
		if f.CVEInfo.ID != "" && !seenCVE[f.CVEInfo.ID] {
			seenCVE[f.CVEInfo.ID] = true
			if err := upFacet("cve_facets", "id", f.CVEInfo); err != nil {
				return fmt.Errorf("store: cve facet %s: %w", f.CVEInfo.ID, err)
			}
		}
		for _, r := range f.Remediations {
			if r.ID != "" && !seenRem[r.ID] {
				seenRem[r.ID] = true
				if err := upFacet("remediations", "id", r); err != nil {
					return fmt.Errorf("store: remediation %s: %w", r.ID, err)
				}
			}
		}
	}
	for _, id := range d.Deletes {
		if _, err := tx.ExecContext(ctx, `DELETE FROM findings WHERE tenant = ? AND id = ?`, d.Tenant, id); err != nil {
			return fmt.Errorf("store: delete finding %s: %w", id, err)
		}
	}
	wm := ""
	if !d.Watermark.IsZero() {
		wm = d.Watermark.UTC().Format(time.RFC3339Nano)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (key, label, watermark, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET label = excluded.label, watermark = excluded.watermark, updated_at = excluded.updated_at`,
		d.Tenant, d.TenantLabel, wm, now()); err != nil {
		return fmt.Errorf("store: watermark: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

type hostRow struct {
	AID string `json:"aid"`
	falcon.HostFacet
}

func keyOf(v any) string {
	switch x := v.(type) {
	case hostRow:
		return x.AID
	case falcon.CVEFacet:
		return x.ID
	case falcon.Remediation:
		return x.ID
	}
	panic(fmt.Sprintf("store: no key for %T", v))
}

// Findings calls fn for every cached finding of the tenant, with its host and
// CVE facets and remediation entities joined back in.
func (s *Store) Findings(ctx context.Context, tenant string, fn func(*falcon.Finding) error) error {
	hosts := map[string]falcon.HostFacet{}
	if err := s.scanDocs(ctx, `SELECT doc FROM host_facets WHERE tenant = ?`, tenant, func(b []byte) error {
		var h hostRow
		if err := json.Unmarshal(b, &h); err != nil {
			return err
		}
		hosts[h.AID] = h.HostFacet
		return nil
	}); err != nil {
		return fmt.Errorf("store: host facets: %w", err)
	}
	cves := map[string]falcon.CVEFacet{}
	if err := s.scanDocs(ctx, `SELECT doc FROM cve_facets WHERE tenant = ?`, tenant, func(b []byte) error {
		var c falcon.CVEFacet
		if err := json.Unmarshal(b, &c); err != nil {
			return err
		}
		cves[c.ID] = c
		return nil
	}); err != nil {
		return fmt.Errorf("store: cve facets: %w", err)
	}
	rems := map[string]falcon.Remediation{}
	if err := s.scanDocs(ctx, `SELECT doc FROM remediations WHERE tenant = ?`, tenant, func(b []byte) error {
		var r falcon.Remediation
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		rems[r.ID] = r
		return nil
	}); err != nil {
		return fmt.Errorf("store: remediations: %w", err)
	}
	return s.scanDocs(ctx, `SELECT doc FROM findings WHERE tenant = ? ORDER BY id`, tenant, func(b []byte) error {
		var f falcon.Finding
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("store: corrupt finding row: %w", err)
		}
		f.Host = hosts[f.AID]
		f.CVEInfo = cves[f.CVE]
		for _, id := range f.RemediationIDs {
			if r, ok := rems[id]; ok {
				f.Remediations = append(f.Remediations, r)
			}
		}
		return fn(&f)
	})
}

func (s *Store) scanDocs(ctx context.Context, q, tenant string, fn func([]byte) error) error {
	rows, err := s.db.QueryContext(ctx, q, tenant)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountFindings is the number of cached findings for the tenant.
func (s *Store) CountFindings(ctx context.Context, tenant string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM findings WHERE tenant = ?`, tenant).Scan(&n)
	return n, err
}

// Run is one `vulnpilot run`, as recorded.
type Run struct {
	ID        string
	Tenant    string
	Mode      string // full, incremental, demo
	Started   time.Time
	Finished  time.Time
	Status    string // ok, failed
	Pulled    int    // findings pulled from Falcon this run
	Findings  int    // findings assessed
	Items     int    // work items in the queue
	Watermark time.Time
	Summary   json.RawMessage
	Error     string
}

// RecordRun stores a run.
func (s *Store) RecordRun(ctx context.Context, r Run) error {
	wm := ""
	if !r.Watermark.IsZero() {
		wm = r.Watermark.UTC().Format(time.RFC3339Nano)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO runs (id, tenant, mode, started_at, finished_at, status, pulled, findings, items, watermark, summary, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Tenant, r.Mode, r.Started.UTC().Format(time.RFC3339Nano), r.Finished.UTC().Format(time.RFC3339Nano),
		r.Status, r.Pulled, r.Findings, r.Items, wm, []byte(r.Summary), r.Error)
	if err != nil {
		return fmt.Errorf("store: record run: %w", err)
	}
	return nil
}

// Runs returns the tenant's most recent runs, newest first.
func (s *Store) Runs(ctx context.Context, tenant string, limit int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, tenant, mode, started_at, finished_at, status, pulled, findings, items, watermark, summary, error
		FROM runs WHERE tenant = ? ORDER BY started_at DESC LIMIT ?`, tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("store: runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started, finished, wm string
		var summary []byte
		if err := rows.Scan(&r.ID, &r.Tenant, &r.Mode, &started, &finished, &r.Status, &r.Pulled, &r.Findings, &r.Items, &wm, &summary, &r.Error); err != nil {
			return nil, err
		}
		r.Started, _ = time.Parse(time.RFC3339Nano, started)
		r.Finished, _ = time.Parse(time.RFC3339Nano, finished)
		if wm != "" {
			r.Watermark, _ = time.Parse(time.RFC3339Nano, wm)
		}
		r.Summary = summary
		out = append(out, r)
	}
	return out, rows.Err()
}
