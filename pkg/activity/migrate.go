package activity

import (
	"context"
	"embed"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned schema step. Every statement in it is
// idempotent (IF NOT EXISTS), so two sinks starting at once both succeed.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// Migrations returns the embedded migrations in version order. File names
// are NNNN_name.sql; statements are separated by ';' at the end of a line.
func Migrations() ([]Migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: uint32(v), Name: name, Statements: splitStatements(string(body))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations with version %d", out[i].Version)
		}
	}
	return out, nil
}

func splitStatements(sql string) []string {
	var lines []string
	for _, l := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";\n") {
		if s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(stmt), ";")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Migrate creates the database if needed and applies the migrations not yet
// recorded in schema_migrations.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.ensureDatabase(ctx); err != nil {
		return err
	}
	migrations, err := Migrations()
	if err != nil {
		return err
	}
	if err := s.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations
(version UInt32, name String, applied_at DateTime('UTC'))
ENGINE = ReplacingMergeTree() ORDER BY version`); err != nil {
		return err
	}
	applied := map[uint32]bool{}
	rows, err := s.conn.Query(ctx, "SELECT version FROM schema_migrations FINAL")
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.Version] {
			continue
		}
		for _, stmt := range m.Statements {
			if err := s.exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
		if err != nil {
			return err
		}
		if err := batch.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
			return err
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		s.logger.Info("clickhouse migration applied", "migration", m.Version, "name", m.Name, "database", s.cfg.Database)
	}
	return nil
}

func (s *Store) exec(ctx context.Context, stmt string) error {
	if err := s.conn.Exec(ctx, stmt); err != nil && !isExists(err) {
		return err
	}
	return nil
}

// ensureDatabase creates the database through a connection to "default": a
// connection naming a missing database is refused at handshake.
func (s *Store) ensureDatabase(ctx context.Context) error {
	boot, err := clickhouse.Open(options(s.cfg, "default"))
	if err != nil {
		return err
	}
	defer boot.Close()
	// The name was checked to be a plain identifier by config validation.
	if err := boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.cfg.Database); err != nil && !isExists(err) {
		return fmt.Errorf("create database %s: %w", s.cfg.Database, err)
	}
	return nil
}
