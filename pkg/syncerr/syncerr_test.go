package syncerr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassification(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		name      string
		err       error
		code      Code
		retryable bool
		after     time.Duration
	}{
		{"plain error is internal and retried", base, CodeInternal, true, 0},
		{"deadline is timeout", fmt.Errorf("call: %w", context.DeadlineExceeded), CodeTimeout, true, 0},
		{"permanent survives wrapping", fmt.Errorf("write: %w", Permanent("QBO_DUPLICATE_NAME", base)), "QBO_DUPLICATE_NAME", false, 0},
		{"transient", Transient(CodeUnavailable, base), CodeUnavailable, true, 0},
		{"retry after", fmt.Errorf("x: %w", RetryAfter(CodeRateLimited, 7*time.Second, base)), CodeRateLimited, true, 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeOf(tc.err); got != tc.code {
				t.Errorf("code %s, want %s", got, tc.code)
			}
			if got := IsRetryable(tc.err); got != tc.retryable {
				t.Errorf("retryable %v, want %v", got, tc.retryable)
			}
			if got := RetryAfterOf(tc.err); got != tc.after {
				t.Errorf("retry after %v, want %v", got, tc.after)
			}
			if !errors.Is(tc.err, base) && tc.code != CodeTimeout {
				t.Error("cause lost")
			}
		})
	}
}
