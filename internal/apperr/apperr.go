// Package apperr defines the application error contract shared by every
// boundary: a machine-readable code, a message a user may read, and the field
// it concerns. Boundaries (HTTP, CLI) map codes to statuses once; internal
// error text never reaches a user.
package apperr

import (
	"errors"
	"fmt"
)

// Codes a caller can branch on.
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EFORBIDDEN    = "forbidden"
	EUNAUTHORIZED = "unauthorized"
	ETOOMANY      = "rate_limited"
	EINTERNAL     = "internal"
)

// Error is an application error whose Message is safe to show a user.
type Error struct {
	Code    string
	Message string
	// Field names the input the error is about ("facts.exposed[2]"), if any.
	Field string
	// Detail carries extra structured data for the caller (e.g. what changed
	// in a conflict). It must be safe to show a user.
	Detail any
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing object.
func NotFound(format string, args ...any) *Error {
	return &Error{Code: ENOTFOUND, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a write based on stale data or a duplicate.
func Conflict(format string, args ...any) *Error {
	return &Error{Code: ECONFLICT, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports an action the actor's role does not allow.
func Forbidden(format string, args ...any) *Error {
	return &Error{Code: EFORBIDDEN, Message: fmt.Sprintf(format, args...)}
}

// Code returns the code of err, EINTERNAL for errors that are not *Error
// and "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// As returns err as *Error, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Message returns the user-safe message of err.
func Message(err error) string {
	if e := As(err); e != nil {
		return e.Message
	}
	return "internal error; the details are in the server log"
}

// List collects several field errors from one validation pass.
type List []*Error

// Err returns nil when the list is empty, the single error when there is one,
// and otherwise an *Error whose Detail holds all of them.
func (l List) Err() error {
	switch len(l) {
	case 0:
		return nil
	case 1:
		return l[0]
	}
	return &Error{Code: EINVALID, Field: l[0].Field, Message: fmt.Sprintf("%s (and %d more problems)", l[0].Message, len(l)-1), Detail: l}
}

// Fields returns the field errors carried by err as a map of field to message.
func Fields(err error) map[string]string {
	e := As(err)
	if e == nil {
		return nil
	}
	m := map[string]string{}
	if l, ok := e.Detail.(List); ok {
		for _, fe := range l {
			if _, seen := m[fe.Field]; !seen {
				m[fe.Field] = fe.Message
			}
		}
		return m
	}
	if e.Field != "" {
		m[e.Field] = e.Message
	}
	return m
}

// Flatten returns the field errors err carries: the list of a multi-field
// error, the error itself when it is a single *Error, and for any other
// error one EINVALID error with its text. nil gives nil.
func Flatten(err error) List {
	if err == nil {
		return nil
	}
	e := As(err)
	if e == nil {
		return List{Invalid("", "%s", err.Error())}
	}
	if l, ok := e.Detail.(List); ok {
		return l
	}
	return List{e}
}
