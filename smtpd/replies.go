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
