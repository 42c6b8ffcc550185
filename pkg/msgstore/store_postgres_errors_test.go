package msgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

func TestPgErr(t *testing.T) {
	other := errors.New("something else")
	tests := []struct {
		name string
		in   error
		want []error // errors.Is targets
		not  []error
	}{
		{"nil", nil, nil, nil},
		{"connection failure", &pgconn.PgError{Code: "08006"}, []error{ErrUnavailable}, []error{ErrInvalid}},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, []error{ErrUnavailable}, nil},
		{"statement cancelled", &pgconn.PgError{Code: "57014"}, []error{ErrUnavailable}, nil},
		{"disk full", &pgconn.PgError{Code: "53100"}, []error{ErrUnavailable}, nil},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, []error{ErrUnavailable}, nil},
		{"bad enum value", &pgconn.PgError{Code: "22P02", Message: "invalid input value for enum"}, []error{ErrInvalid}, []error{ErrUnavailable}},
		{"raced explicit id", &pgconn.PgError{Code: "23505", ConstraintName: "chatMessage_pkey"}, []error{ErrDuplicateID}, []error{ErrUnavailable}},
		{"other unique violation", &pgconn.PgError{Code: "23505", ConstraintName: "chatMessage_roomId_seq_key"}, nil, []error{ErrDuplicateID, ErrUnavailable}},
		{"store timeout", fmt.Errorf("query: %w", context.DeadlineExceeded), []error{ErrUnavailable, context.DeadlineExceeded}, nil},
		{"caller cancelled", fmt.Errorf("query: %w", context.Canceled), []error{context.Canceled}, []error{ErrUnavailable}},
		{"network", &net.OpError{Op: "read", Err: errors.New("connection reset")}, []error{ErrUnavailable}, nil},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), []error{ErrUnavailable}, nil},
		{"own sentinel kept", fmt.Errorf("x: %w", ErrNotFound), []error{ErrNotFound}, []error{ErrUnavailable}},
		{"callback error kept", other, []error{other}, []error{ErrUnavailable, ErrInvalid}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pgErr(tc.in)
			if tc.in == nil {
				require.NoError(t, got)
				return
			}
			for _, w := range tc.want {
				require.ErrorIs(t, got, w)
			}
			for _, n := range tc.not {
				require.NotErrorIs(t, got, n)
			}
		})
	}
}
