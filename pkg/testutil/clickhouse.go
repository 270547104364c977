package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/ledgersync/ledgersync/pkg/config"
)

// ClickHouseAddr is the server tests use: CLICKHOUSE_ADDR, or the local one
// `make test` starts.
func ClickHouseAddr() string {
	if a := os.Getenv("CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:9000"
}

// ClickHouse returns a config for a fresh database of its own on the test
// server, dropped when the test ends. The database is created by the code
// under test (Migrate), as in production.
func ClickHouse(t testing.TB) config.ClickHouse {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := config.ClickHouse{
		Addr:     ClickHouseAddr(),
		Database: "test_" + hex.EncodeToString(b[:]),
		Username: "default",
		Timeout:  5 * time.Second,
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cfg.Addr}, Protocol: clickhouse.Native, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		t.Fatalf("ClickHouse is not reachable at %s (make test starts it; or run deploy/local/clickhouse.sh start): %v", cfg.Addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			t.Logf("drop test database %s: %v", cfg.Database, err)
		}
		conn.Close()
	})
	return cfg
}
