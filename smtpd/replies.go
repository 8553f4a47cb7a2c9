package smtpd

import "github.com/emersion/go-smtp"

// Replies of SPEC section 3, with the RFC that defines each code.
var (
	// RFC 5321 4.2.2 / RFC 3463 5.1.1: bad destination mailbox address.
	errUnknownUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	// RFC 3463 5.2.1: mailbox disabled, not accepting messages.
	errDisabled = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 2, 1}, Message: "Mailbox disabled, not accepting messages"}
	// RFC 3463 5.7.1: delivery not authorized (we never relay).
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied"}
	// RFC 5321 4.5.3.1.10 / RFC 3463 4.5.3: too many recipients.
	errTooManyRcpts = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	// RFC 1870 / RFC 3463 5.3.4: message too big for system.
	errTooBig = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed maximum message size"}
	// RFC 5321 2.3.8: lines end with CRLF only; bare CR/LF is refused to
	// stop SMTP smuggling (CVE-2023-51764 class).
	errBareLF = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Bare CR or LF in message; lines must end with CRLF"}
	// RFC 3463 4.3.0: local error in processing; the sender retries.
	errLocal = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error in processing, try again later"}
	// RFC 3463 5.1.3: bad destination mailbox address syntax.
	errBadRcptSyntax = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	// RFC 3463 5.5.1: MAIL FROM needed before the transaction goes on.
	errNoTransaction = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Bad sequence of commands"}
)

// authReply builds the end-of-DATA answer for a failing sender check under
// policy reject: permanent 550 5.7.1, or 451 4.7.0 when DNS did not answer.
func authReply(temporary bool, reason string) *smtp.SMTPError {
	if temporary {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure: " + reason}
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected by sender policy: " + reason}
}

// Replies the connection guard writes itself before it closes the
// connection (RFC 5321 3.8: 421 may be sent at any time when the server
// must close the transmission channel).
const (
	// RFC 3463 4.7.0: security or policy status; over a connection limit.
	replyTooManyConns = "421 4.7.0 Too many connections, try again later\r\n"
	// RFC 3463 4.3.2: system not accepting network messages.
	replyShutdown = "421 4.3.2 Service shutting down\r\n"
	// An HTTP request line: a cross-protocol attack, never a mail client.
	replyHTTP = "421 4.7.0 This is an SMTP server, closing connection\r\n"
	// Beyond smtp.max_bad_commands 50x replies in one session.
	replyTooManyBad = "421 4.7.0 Too many bad commands, closing connection\r\n"
	// RFC 3463 4.4.2: bad connection; the DATA phase went past its
	// deadline. Closing (instead of go-smtp's 554 and reading on) keeps the
	// rest of the body from being taken as commands.
	replyDataTimeout = "421 4.4.2 Timeout while reading the message, closing connection\r\n"
	// An oversize message is read on (and thrown away) only up to a bound;
	// past it the sender gets the size reply and the connection is closed.
	replyTooBigClose = "552 5.3.4 Message size exceeds fixed maximum message size, closing connection\r\n"
	// A bare CR that left go-smtp's reader unable to see the end of DATA
	// (a line ending in CR CR LF): the reply of errBareLF, then close.
	replyBareCRClose = "550 5.6.0 Bare CR or LF in message; lines must end with CRLF, closing connection\r\n"
	// A line over smtp.max_line_length in DATA (RFC 5321 4.5.3.1.6); the
	// text matches go-smtp's own answer for an over-long command line.
	replyLineTooLong = "500 5.4.0 Too long line, closing connection\r\n"
)

// errHeaderTooBig: the header block is over smtp.max_header_bytes. It is a
// size limit, so it gets the size reply (RFC 1870 / RFC 3463 5.3.4).
var errHeaderTooBig = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message header block exceeds fixed maximum size"}

// errClosing answers a command that go-smtp still had buffered when the
// guard closed the connection (nobody reads it; it only keeps such a
// command from starting a transaction).
var errClosing = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Connection closing"}

// errDataTimeout is what the transaction log records for a DATA timeout
// (the client got replyDataTimeout).
var errDataTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout while reading the message"}

// errLineTooLong is what the transaction log records for an over-long DATA
// line (the client got replyLineTooLong).
var errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 4, 0}, Message: "Too long line"}
