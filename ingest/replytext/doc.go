// Package replytext makes a ticket message's text_reply (SPEC section 2a):
// the text the sender wrote in this message, without the earlier messages
// it quotes and without its signature. Extract takes the message's plain
// text and its HTML alternative, as ingest/mailparse decodes them.
//
// Plain text is read line by line:
//   - the sender's part ends at the first original-message block (a
//     marker line such as "-----Original Message-----" or "------------------
//     原始邮件 ------------------", or a header block "From:/Sent:/To:/
//     Subject:" in the languages of Outlook, Foxmail, QQ Mail and
//     NetEase, with the separator line above it); everything from there is
//     dropped. It also ends at a forward marker, but a forward is kept;
//   - quoted lines (">") are dropped with the attribution above them
//     ("On … wrote:", "在 … 写道：", "Am … schrieb …:", "…のメッセージ:", …,
//     also when Gmail wraps it over two lines); lines between quotes (an
//     inline answer) stay;
//   - a signature runs from "-- " or "--" to the next quote or the end of
//     the sender's part;
//   - a last one-line paragraph that is a mobile footer ("Sent from my
//     iPhone", "发自我的iPhone", "iPhoneから送信", …) is dropped.
//
// HTML is used when the plain text has no quoted line but the HTML has a
// quote container (Yahoo, Outlook and NetEase leave their plain text
// unmarked): the containers are removed with golang.org/x/net/html, the
// rest is converted with mailparse.HTMLToText and the plain-text rules run
// on the result. Containers: blockquote type="cite" (Apple Mail, iOS,
// Thunderbird), gmail_quote, yahoo_quoted (Yahoo, AOL),
// blockquote#isReplyContent (NetEase web mail), ntes-mailmaster-quote
// (NetEase Mail Master), xm_compose_origin_mail_container (newer QQ Mail),
// protonmail_quote; and, cut to the end of the body, Outlook's
// divRplyFwdMsg and appendonsend, Outlook for Mac's
// mail-editor-reference-message-container, 139 Mail's hr#replySplit, and
// any element whose text is an original-message marker line, which is how
// QQ Mail and Foxmail mark their quote (a div holding
// "------------------&nbsp;原始邮件&nbsp;------------------" followed by
// the header block and the quoted message). An attribution element or
// text just before a container (Thunderbird's moz-cite-prefix, NetEase's
// "在 … 写道：" paragraph) goes with it.
//
// Decisions where SPEC is silent:
//   - A message that is only quotes, signature and footer gets an empty
//     text_reply: the sender wrote nothing, and text still holds it all.
//     A mobile footer counts as a signature for this.
//   - When nothing is removed the result is text itself, byte for byte.
//     Otherwise lines keep text's breaks (CRLF stays CRLF), leading and
//     trailing blank lines go, and where lines were removed the blank lines
//     around the gap become one.
//   - An attribution is only removed above a quote, or when it is the last
//     thing left (its quote was cut as an original-message block). A lone
//     "On … wrote:" followed by unmarked text is kept: that text cannot be
//     told from the sender's without the HTML.
//   - A forward is kept whole from its marker on, quotes and header blocks
//     inside it included; the sender's signature and footer above it are
//     still removed. A marker inside a quote goes with the quote. An
//     Outlook forward has no forward marker (its "From:/Sent:" block and
//     divRplyFwdMsg look like a reply's) and is cut like a reply.
//   - A mobile footer is at most eight words and 100 characters, so that a
//     sentence such as "Sent from our warehouse in Leeds on Monday, …"
//     stays. In text made from HTML a footer is found only when it is a
//     paragraph of its own there.
//   - Beyond the labels SPEC names, header blocks also accept German,
//     French and Spanish labels (Von/Gesendet/Betreff, De/Envoyé/Objet,
//     De/Enviado/Asunto), and footers their forms ("Von meinem iPhone
//     gesendet", "Envoyé de mon iPhone", "Enviado desde mi iPhone").
//
// Work is linear in the input. TestExtractWorkIsLinear holds Extract to
// this by counting steps (bytes read or copied, lines and nodes visited:
// work.go), not time, on inputs shaped against each rule: at most 64
// steps per byte of text and html and per node of html's parsed tree, and
// at most 4.5 times the steps for an input four times the size. Why it
// holds:
//   - Plain text (and text made from HTML) is read line by line, each
//     line a constant number of times: splitOwn, the quote, signature,
//     attribution and footer passes, render. Scans back are bounded too:
//     over the blank lines just above each quote run, which no other
//     run's scan reads; over the dropped and blank lines at the end,
//     twice; over the blank lines above the block cut, once. A header
//     block is tried once from a line that starts one, not again from the
//     lines it read.
//   - Of a line, the quote and blank tests and the first and last rune
//     tests read the white space at its ends; labelOf reads its first 64
//     bytes (colonWindow), and all of it only when a colon is among them;
//     the marker, forward and separator tests read all of it only when it
//     starts with "-", "_" or "=" or ends in a colon; isAttribution only
//     when it ends in a colon, and its patterns run on 300 runes at most;
//     isAttributionStart reads the two lines above a quote run, and
//     isMobileFooter the last kept line (its words and pattern only up to
//     100 runes). A whole line is read by normSpace (not a bounded
//     prefix) and a regular expression, both linear: a 25 MB line is read
//     whole a dozen times or so, never once for each other line.
//   - The HTML tree is walked once, each node visited once, its
//     attributes and text read once or a constant number of times. What
//     classifying a node reads of others is bounded by a budget, not by
//     the subtree or the nodes before it: whether an element is a cut to
//     the end, 500 nodes (maxTextNodes) and 200 bytes of text
//     (maxMarkerBytes); a container's first line (a forward?), 500 nodes
//     and 1,200 bytes (maxAttributionBytes); its look-behind skips at most
//     16 fillers on each of 4 levels within 128 nodes and 512 bytes in all
//     (maxFillerNodes, maxFillerBytes), and reads the attribution it finds
//     within 500 nodes and 1,200 bytes of text and attributes, once: a
//     node found not to be an attribution is not read again for the next
//     container. A node too long to read within its budget is no marker,
//     forward, filler or attribution.
//   - Not counted step by step: golang.org/x/net/html, counted as the
//     bytes it is given. Its Parse rejects nesting deeper than 512
//     elements, which bounds what it does per tag, but it clones the
//     formatting elements left open (up to 512 of them) into each block
//     after them: the tree can have some hundred nodes per byte of input,
//     and each tag can cost it 512² steps (BenchmarkExtract's
//     "formatting clones", tens of µs per byte). So Parse is given only
//     HTML of at most 512 KiB (maxPruneHTML) in which one pass of the
//     tokenizer bounds those clones to half the bytes (parseIsBounded);
//     other HTML keeps to the plain-text rules, and the bound above
//     holds per byte.
//     mailparse.HTMLToText is one pass of its tokenizer.
package replytext
