// Package web holds what Scopegate's browser pages share: password hashing,
// sign-in throttling, sealed session cookies, CSRF protection and the page
// layout (html/template with embedded assets, no CDN, no JavaScript needed).
package web

import (
	"errors"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is the bcrypt cost of new password hashes. Tests may lower it.
var PasswordCost = 12

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// ErrWeakPassword means a password is too short or too long for bcrypt.
var ErrWeakPassword = errors.New("passwords need at least 10 characters and at most 72 bytes")

// HashPassword returns a slow, salted hash of password (bcrypt).
func HashPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLength || len(password) > 72 {
		return "", ErrWeakPassword
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	return string(h), err
}

// dummyHash makes a check against a missing user cost as much as a real one.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("scopegate-timing-equaliser"), bcrypt.MinCost)

// CheckPassword reports whether password matches hash. An empty hash (user
// without a password) never matches but takes comparable time.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
