// Package migrations embeds the golang-migrate files, which are also sqlc's
// schema.
package migrations

import "embed"

// FS holds the *.up.sql and *.down.sql files.
//
//go:embed *.sql
var FS embed.FS
