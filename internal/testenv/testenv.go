// Package testenv gives integration tests the services scripts/test.sh
// starts (PostgreSQL and Redis on loopback), or skips them with one clear
// message when they are not there.
package testenv

import (
	"os"
	"testing"

	"github.com/redis/rueidis"
)

// RedisAddr returns HUBD_TEST_REDIS_ADDR or skips tb.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		tb.Skip("HUBD_TEST_REDIS_ADDR not set: run scripts/test.sh")
	}
	return addr
}

// Redis connects a client to the test Redis with opt (its InitAddress is
// filled in), closed when tb ends; it skips tb without a test Redis.
func Redis(tb testing.TB, opt rueidis.ClientOption) rueidis.Client {
	tb.Helper()
	opt.InitAddress = []string{RedisAddr(tb)}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		tb.Fatalf("connect to the test redis: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// DatabaseURL returns HUBD_TEST_DATABASE_URL or skips tb.
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("HUBD_TEST_DATABASE_URL")
	if url == "" {
		tb.Skip("HUBD_TEST_DATABASE_URL not set: run scripts/test.sh")
	}
	return url
}
