package main

import (
	"github.com/sobot/ticketmx/config"
	"github.com/sobot/ticketmx/ingest/mailparse"
)

// fallback_charset is validated against the charsets the message parser
// decodes (config imports none of the ingest packages).
func init() { config.CheckCharset = mailparse.KnownCharset }
