/*
 * ftplens.h: the C ABI of the ftplens FTP analysis core.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * This header is the contract. build.rs runs bindgen over it and checks, at compile time, that every
 * function declared here is exported by the Rust core with exactly this signature, and the Rust side
 * uses the structs bindgen derives from this file, so their layouts cannot drift apart.
 *
 * Conventions
 * -----------
 * - Names are ftplens_<type>_<verb>. Handles are opaque; each _new has a matching _free.
 * - Fallible calls return an ftplens_result. 0 is success. Numbers are never reused.
 * - No Rust panic crosses this boundary: a panic inside a call is caught and reported as
 *   FTPLENS_ERR_PANIC. A session that panicked is poisoned and answers FTPLENS_ERR_POISONED afterwards.
 * - NULL where a pointer is required gives FTPLENS_ERR_NULL_ARGUMENT and changes nothing.
 *
 * Memory
 * ------
 * - Everything the library returns is owned by the library. Callers never free a returned pointer,
 *   except a handle, with its own _free function.
 * - Strings are NUL-terminated UTF-8 (invalid bytes on the wire are replaced by U+FFFD).
 * - Pointers inside an ftplens_event or an ftplens_item returned by a session stay valid until the next
 *   call that takes that session mutably (feed, finish, free). Copy what you keep.
 * - Pointers inside an ftplens_line point into the caller's input buffer (zero copy) or to static
 *   strings, except the inline char arrays, which the caller owns as part of the struct.
 * - Strings from the registries (fields, experts, anomaly names, reply meanings) are static.
 *
 * Threads
 * -------
 * - A session is not synchronised: use one session from one thread at a time. Different sessions may be
 *   used from different threads at once. Stateless calls and registries are thread-safe.
 */
#ifndef FTPLENS_H
#define FTPLENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a struct layout or a signature in this file changes incompatibly. */
#define FTPLENS_ABI_VERSION 3

/* ---------------------------------------------------------------- results */
typedef uint32_t ftplens_result;
#define FTPLENS_OK 0
#define FTPLENS_ERR_NULL_ARGUMENT 1   /* a required pointer was NULL */
#define FTPLENS_ERR_INVALID_ARGUMENT 2 /* an enum value or index out of range */
#define FTPLENS_ERR_PANIC 3           /* an internal bug was caught; the session is now poisoned */
#define FTPLENS_ERR_POISONED 4        /* the session panicked earlier and can no longer be used */
#define FTPLENS_ERR_PARSE 5           /* the line is not FTP (ftplens_line_parse) */
#define FTPLENS_END 6                 /* nothing (more) to give: not an error (ftplens_dissector_view,
                                         ftplens_capture_next) */

/* ---------------------------------------------------------------- small enums */
typedef uint32_t ftplens_direction;
#define FTPLENS_DIR_TO_SERVER 0 /* client -> server: commands */
#define FTPLENS_DIR_TO_CLIENT 1 /* server -> client: replies */

typedef uint32_t ftplens_mode; /* how a data channel was announced */
#define FTPLENS_MODE_NONE 0
#define FTPLENS_MODE_PORT 1
#define FTPLENS_MODE_PASV 2
#define FTPLENS_MODE_EPRT 3
#define FTPLENS_MODE_EPSV 4
#define FTPLENS_MODE_LPRT 5
#define FTPLENS_MODE_LPSV 6

typedef uint32_t ftplens_family;
#define FTPLENS_FAMILY_NONE 0
#define FTPLENS_FAMILY_IPV4 4
#define FTPLENS_FAMILY_IPV6 6

/* An IP endpoint. addr holds 4 bytes (IPv4) or 16 bytes (IPv6) in network order. */
typedef struct ftplens_endpoint {
    ftplens_family family;
    uint16_t port;
    uint8_t addr[16];
} ftplens_endpoint;

/* ---------------------------------------------------------------- library */

/* FTPLENS_ABI_VERSION of the library actually loaded. Compare it with the header's. */
uint32_t ftplens_abi_version(void);

/* The crate version, e.g. "0.1.0". Static. */
const char *ftplens_version(void);

/* ---------------------------------------------------------------- stateless parsing */
typedef uint32_t ftplens_line_kind;
#define FTPLENS_LINE_COMMAND 1
#define FTPLENS_LINE_REPLY 2

/* One line, parsed without any session. Text pointers point into the caller's buffer and are NOT
 * NUL-terminated: use the _len companions. */
typedef struct ftplens_line {
    ftplens_line_kind kind;
    /* command */
    const uint8_t *verb;      /* as sent (case preserved) */
    size_t verb_len;
    const uint8_t *arg;       /* exactly as sent, without the line end; NULL when absent */
    size_t arg_len;
    bool verb_known;          /* in the command table (RFC 959, 2228, 2389, 2428, 3659, 1639, 7151) */
    /* reply */
    uint16_t code;            /* 0 when the line has no valid code */
    bool continued;           /* "NNN-": the first line of a multi-line reply */
    const uint8_t *text;      /* reply text after the code and separator */
    size_t text_len;
    const char *reply_class;     /* meaning of the first digit, static; "" if unknown */
    const char *reply_category;  /* meaning of the second digit, static; "" if unknown */
    const char *reply_meaning;   /* RFC 959 text for a standard code, static; "" otherwise */
    /* an address carried by PORT, EPRT, LPRT, 227, 228 or 229 */
    ftplens_mode mode;           /* FTPLENS_MODE_NONE when the line carries none */
    ftplens_endpoint endpoint;   /* family NONE for 229/EPSV, which gives a port only */
    char arithmetic[96];         /* e.g. "192.168.1.109:26758 (104*256+134)", NUL-terminated */
    char address_error[64];      /* non-empty when the line should carry an address but it is malformed */
} ftplens_line;

/* Parse one line (with or without its CRLF). dir says whether it is a command or a reply.
 * Returns FTPLENS_ERR_PARSE when the bytes are not an FTP line of that direction; *out is then zeroed. */
ftplens_result ftplens_line_parse(const uint8_t *data, size_t len, ftplens_direction dir, ftplens_line *out);

/* ---------------------------------------------------------------- line framing helpers */

/* The length of the longest prefix of data made only of complete lines (ending in LF), so that a
 * dissector can ask TCP for more bytes when a line is unfinished. When the unfinished tail is already
 * max_line bytes or longer, the whole buffer is returned: the session then reports an over-long line
 * instead of waiting forever. max_line 0 means the default limit. */
size_t ftplens_complete_prefix(const uint8_t *data, size_t len, size_t max_line);

/* A heuristic verdict on the first bytes one side of a TCP connection sent. */
typedef uint32_t ftplens_verdict;
#define FTPLENS_VERDICT_UNSURE 0  /* not enough data to tell */
#define FTPLENS_VERDICT_NOT_FTP 1 /* SMTP, POP3, IRC, HTTP, binary... */
#define FTPLENS_VERDICT_SERVER 2  /* an FTP server's reply: this side is the server */
#define FTPLENS_VERDICT_CLIENT 3  /* an FTP client's command: this side is the client */
ftplens_verdict ftplens_heuristic(const uint8_t *data, size_t len);

/* The MIME type the first bytes of a file suggest ("image/png", "text/plain",
 * "application/octet-stream"...): a static string owned by the library, or NULL for no bytes. */
const char *ftplens_sniff_mime(const uint8_t *data, size_t len);

/* ---------------------------------------------------------------- sessions */
typedef struct ftplens_session ftplens_session;

/* Limits. Zero in any field means "use the default"; the defaults and maximums are ftplens_limit_get's.
 * The fields are the core's limit registry in its order (the build checks), so limit i of
 * ftplens_limit_get is the i-th field. */
typedef struct ftplens_limits {
    uint32_t max_line;             /* bytes in one line before it is cut */
    uint32_t max_reply_lines;      /* lines kept in one multi-line reply */
    uint32_t max_pending_commands; /* commands waiting for a reply */
    uint32_t max_expectations;     /* open data-channel predictions per session */
    uint32_t expectation_timeout;  /* seconds an unused prediction lives */
    uint32_t failed_login_alarm;   /* failed logins that raise repeated_login_failures */
} ftplens_limits;

/* The limits by name, for user interfaces (preferences, command-line flags): limit i is the i-th field
 * of ftplens_limits. The strings are static. */
typedef struct ftplens_limit_info {
    const char *name;        /* e.g. "max_line": the CLI's --limit name, the Wireshark preference name */
    const char *description; /* one line */
    const char *help;        /* the description, the default and maximum, and the expert info raised:
                                the text of a preference dialog */
    uint32_t default_value;
    uint32_t max_value;      /* a larger value is taken as this one */
    const char *anomaly;     /* the anomaly raised when the limit is hit; "" when none */
} ftplens_limit_info;

size_t ftplens_limit_count(void);
ftplens_result ftplens_limit_get(size_t index, ftplens_limit_info *out);
/* The title of limit index in words, e.g. "Longest line kept (bytes)": the label of a preference
 * dialog (the name stays the preference's key). Static; NULL for an index out of range. A getter
 * rather than a field of ftplens_limit_info so that struct keeps its layout. */
const char *ftplens_limit_title(size_t index);

/* Set limit index of *limits to value (0: the default). FTPLENS_ERR_INVALID_ARGUMENT for an index out
 * of range. */
ftplens_result ftplens_limits_set(ftplens_limits *limits, size_t index, uint32_t value);

typedef struct ftplens_session_config {
    ftplens_endpoint client; /* the control connection's client side; family NONE if unknown */
    ftplens_endpoint server; /* the control connection's server side; family NONE if unknown */
    ftplens_limits limits;
} ftplens_session_config;

/* Create a session. config may be NULL (no endpoints, default limits). Free with ftplens_session_free.
 * Returns NULL only if allocation fails or config is invalid. */
ftplens_session *ftplens_session_new(const ftplens_session_config *config);

/* Free a session. NULL is ignored. Invalidates every pointer the session returned. */
void ftplens_session_free(ftplens_session *session);

/* Hide passwords (off when a session is made): from the next feed on, every password this session
 * publishes -- the PASS argument and the login password, in the events, the items and
 * the summary -- is one '*' per byte. The core decides what a password is; callers need not know. */
ftplens_result ftplens_session_set_hide_passwords(ftplens_session *session, bool hide);

/* Feed bytes of one direction, in stream order, each byte once. frame is the caller's packet number
 * and ts its time in seconds; both are copied into the events. Lines may be cut anywhere across feeds,
 * and one feed may hold many lines. On success *n_events_out is the number of events this call
 * produced, readable with ftplens_session_event until the next mutable call. */
ftplens_result ftplens_session_feed(ftplens_session *session, ftplens_direction dir, const uint8_t *data,
                                    size_t len, uint64_t frame, double ts, size_t *n_events_out);

/* The connection closed (or the capture ended): pending transfers and predictions are closed with
 * their outcome. Produces events like feed. */
ftplens_result ftplens_session_finish(ftplens_session *session, uint64_t frame, double ts,
                                      size_t *n_events_out);

/* ---------------------------------------------------------------- events */
typedef uint32_t ftplens_event_kind;
#define FTPLENS_EVENT_COMMAND 1          /* command, arg */
#define FTPLENS_EVENT_REPLY 2            /* code, text, request_frame, response_time */
#define FTPLENS_EVENT_LOGIN 3            /* user, password, anonymous, login_state, failures */
#define FTPLENS_EVENT_DATA_EXPECTED 4    /* channel_id, mode, data, alt_data, peer, arithmetic */
#define FTPLENS_EVENT_TRANSFER_STARTED 5 /* channel_id, transfer fields */
#define FTPLENS_EVENT_TRANSFER_ENDED 6   /* channel_id, transfer fields, outcome */
#define FTPLENS_EVENT_TLS_UPGRADE 7      /* text = the AUTH mechanism; the rest of the connection is TLS */
#define FTPLENS_EVENT_ANOMALY 8          /* anomaly, text = detail */
#define FTPLENS_EVENT_DATA_PROTECTED 9   /* PROT P accepted: later data channels carry TLS */

typedef uint32_t ftplens_login_state;
#define FTPLENS_LOGIN_ATTEMPT 1 /* USER or PASS sent */
#define FTPLENS_LOGIN_SUCCESS 2 /* 230 (or 232) */
#define FTPLENS_LOGIN_FAILURE 3 /* 530 or another failure code after USER/PASS */

typedef uint32_t ftplens_outcome;
#define FTPLENS_OUTCOME_NONE 0
#define FTPLENS_OUTCOME_COMPLETE 1 /* 226 or 250 */
#define FTPLENS_OUTCOME_FAILED 2   /* 425, 426, 451, 55x or another failure code */
#define FTPLENS_OUTCOME_ABORTED 3  /* ABOR */
#define FTPLENS_OUTCOME_UNKNOWN 4  /* the connection ended before the final reply */
#define FTPLENS_OUTCOME_EXPIRED 5  /* a prediction no transfer used: superseded, rejected, expired or
                                      dropped at the cap; sent as TRANSFER_ENDED with command "" */

typedef uint32_t ftplens_anomaly;
#define FTPLENS_ANOMALY_NONE 0
#define FTPLENS_ANOMALY_BOUNCE 1                  /* PORT/EPRT/LPRT to a host that is not the client */
#define FTPLENS_ANOMALY_PRIVILEGED_PORT 2         /* PORT/EPRT/LPRT to a port below 1024 */
#define FTPLENS_ANOMALY_NAT_MISMATCH 3            /* 227/228 address is not the server's */
#define FTPLENS_ANOMALY_REPEATED_LOGIN_FAILURES 4 /* failures reached failed_login_alarm */
#define FTPLENS_ANOMALY_INVALID_REPLY_CODE 5      /* a server line without a valid 3-digit code */
#define FTPLENS_ANOMALY_LINE_TOO_LONG 6           /* a line hit max_line; resynced at the next LF */
#define FTPLENS_ANOMALY_MALFORMED_ADDRESS 7       /* PORT/227/EPRT/229/LPRT/228 that does not parse */
#define FTPLENS_ANOMALY_TOO_MANY_PENDING 8        /* max_pending_commands hit; oldest dropped */
#define FTPLENS_ANOMALY_EXPECTATIONS_FULL 9       /* max_expectations hit; oldest dropped */
#define FTPLENS_ANOMALY_REPLY_TOO_LONG 10         /* max_reply_lines hit; later lines not kept */
#define FTPLENS_ANOMALY_UNMATCHED_REPLY 11        /* a reply with no command waiting */
#define FTPLENS_ANOMALY_UNKNOWN_COMMAND 12        /* a verb outside the command table */
#define FTPLENS_ANOMALY_TRANSFER_FAILED 13        /* a transfer ended FAILED or ABORTED */
#define FTPLENS_ANOMALY_COUNT 14

/* The stable snake_case name of an anomaly ("bounce", "nat_mismatch", ...), or NULL if out of range. */
const char *ftplens_anomaly_name(ftplens_anomaly anomaly);

/* One event. Only the fields its kind names are meaningful; the others are zero or NULL.
 * String fields are never NULL for the kinds that name them (an absent argument is ""). */
typedef struct ftplens_event {
    ftplens_event_kind kind;
    ftplens_direction direction;
    uint64_t frame;
    double ts;
    /* The span of the line that caused the event, in the buffer passed to the last feed. A line that
     * began in an earlier feed starts at 0 here. Events from finish have length 0. */
    uint32_t line_offset;
    uint32_t line_length;

    const char *command; /* COMMAND: verb as sent; TRANSFER_*: the transfer verb, upper-case */
    const char *arg;     /* COMMAND: argument as sent; TRANSFER_*: the file argument */

    uint16_t code;           /* REPLY */
    const char *text;        /* REPLY: all lines' text joined by "\n"; TLS_UPGRADE, ANOMALY: detail */
    uint32_t reply_lines;    /* REPLY: number of lines (1 for a one-line reply) */
    uint64_t request_frame;  /* REPLY: frame of the command answered, 0 if none */
    double response_time;    /* REPLY: seconds since that command, or -1 */
    const char *request_command; /* REPLY: verb of the command answered, upper-case, "" if none */

    const char *user;        /* LOGIN */
    const char *password;    /* LOGIN: NULL until PASS is seen */
    bool anonymous;          /* LOGIN */
    ftplens_login_state login_state; /* LOGIN */
    uint32_t failures;       /* LOGIN: failed attempts so far in this session */

    uint32_t channel_id;     /* DATA_EXPECTED, TRANSFER_*: unique within the session, from 1 */
    ftplens_mode mode;       /* DATA_EXPECTED, TRANSFER_* */
    ftplens_endpoint data;   /* DATA_EXPECTED: the listener (address and port). For 229 (EPSV) the
                                address is the configured control server's; family is NONE when
                                that is unknown (a session created without endpoints). */
    ftplens_endpoint alt_data; /* DATA_EXPECTED: the listening side's control-connection address on the
                                  same port, when it differs from data (NAT on either side); family
                                  NONE otherwise. Register both. */
    ftplens_endpoint peer;   /* DATA_EXPECTED: the side that will connect, port 0 = any port */
    char arithmetic[96];     /* DATA_EXPECTED: "192.168.1.109:26758 (104*256+134)" */

    const char *path;        /* TRANSFER_*: arg resolved against the known cwd */
    const char *transfer_type; /* TRANSFER_*: TYPE in force ("A", "I", ...), "" if never set */
    uint64_t rest_offset;    /* TRANSFER_*: REST position, 0 if none */
    uint64_t setup_frame;    /* TRANSFER_*: frame that announced the channel */
    uint64_t command_frame;  /* TRANSFER_*: frame of the transfer command */
    int64_t size;            /* TRANSFER_*: size from a SIZE or 150/213 reply, -1 if unknown */
    ftplens_outcome outcome; /* TRANSFER_ENDED (EXPIRED, with command "", for an unused prediction) */
    bool data_tls;           /* TRANSFER_*: PROT P was in force */

    ftplens_anomaly anomaly; /* ANOMALY */

    const char *export_name; /* TRANSFER_*: the name to save the transferred file under (the last
                                component of its argument, ".partial-at-N" after REST N); NULL when
                                the transfer carries no file (a listing). Added in ABI 2. */
} ftplens_event;

/* Copy event number index (0-based, below the count the last feed or finish returned) into *out. */
ftplens_result ftplens_session_event(const ftplens_session *session, size_t index, ftplens_event *out);

/* ---------------------------------------------------------------- dissector items */
/*
 * Dissectors (the C plugin and the Lua fallback) do not interpret events themselves: the core turns
 * each feed's events into a flat list of tree items, in display order, each naming a field of the
 * registry below. A dissector registers one Wireshark field per registry entry and adds the items.
 */
typedef uint32_t ftplens_field_type;
#define FTPLENS_FT_NONE 0     /* a label that opens a subtree; no value */
#define FTPLENS_FT_STRING 1
#define FTPLENS_FT_UINT 2     /* unsigned, up to 64 bits, decimal */
#define FTPLENS_FT_BOOL 3
#define FTPLENS_FT_FRAME 4    /* a frame number */
#define FTPLENS_FT_RELTIME 5  /* seconds, as a relative time */
#define FTPLENS_FT_IPV4 6
#define FTPLENS_FT_IPV6 7

typedef uint32_t ftplens_frame_role; /* for FTPLENS_FT_FRAME */
#define FTPLENS_FRAME_PLAIN 0
#define FTPLENS_FRAME_REQUEST 1
#define FTPLENS_FRAME_RESPONSE 2

typedef struct ftplens_field_info {
    const char *abbrev;      /* filter name, e.g. "ftplens.request.command" */
    const char *name;        /* display name, e.g. "Request command" */
    const char *blurb;       /* one-line description */
    ftplens_field_type type;
    ftplens_frame_role frame_role;
    bool data_protocol;      /* true for ftplens-data.* fields */
} ftplens_field_info;

size_t ftplens_field_count(void);
ftplens_result ftplens_field_get(size_t index, ftplens_field_info *out);

typedef uint32_t ftplens_expert_group;
#define FTPLENS_GROUP_SECURITY 1
#define FTPLENS_GROUP_PROTOCOL 2
#define FTPLENS_GROUP_MALFORMED 3
#define FTPLENS_GROUP_SEQUENCE 4
#define FTPLENS_GROUP_RESPONSE_CODE 5

typedef uint32_t ftplens_expert_severity;
#define FTPLENS_SEVERITY_CHAT 1
#define FTPLENS_SEVERITY_NOTE 2
#define FTPLENS_SEVERITY_WARN 3
#define FTPLENS_SEVERITY_ERROR 4

typedef struct ftplens_expert_info {
    const char *abbrev;  /* e.g. "ftplens.cleartext_credentials" */
    const char *summary; /* default message */
    ftplens_expert_group group;
    ftplens_expert_severity severity;
} ftplens_expert_info;

size_t ftplens_expert_count(void);
ftplens_result ftplens_expert_get(size_t index, ftplens_expert_info *out);

#define FTPLENS_NO_EXPERT UINT32_MAX

/* Where an item goes. */
typedef uint32_t ftplens_item_target;
#define FTPLENS_TARGET_FRAME 0   /* this frame's ftplens tree */
#define FTPLENS_TARGET_EARLIER 1 /* an earlier frame's tree (target_frame), e.g. response_in on a request;
                                    shown when that frame is dissected again */
#define FTPLENS_TARGET_CHANNEL 2 /* the ftplens-data tree of every packet of data channel channel_id */

typedef struct ftplens_item {
    ftplens_item_target target;
    uint64_t target_frame;   /* FTPLENS_TARGET_EARLIER */
    uint32_t channel_id;     /* FTPLENS_TARGET_CHANNEL */
    uint32_t field;          /* index into the field registry */
    uint32_t depth;          /* 0 = directly under the protocol item, 1 = under the last depth-0 item... */
    uint32_t offset;         /* bytes into the last fed buffer (FTPLENS_TARGET_FRAME items only) */
    uint32_t length;         /* 0 = generated (not tied to bytes); always 0 for EARLIER and CHANNEL */
    bool generated;          /* computed by ftplens rather than read from the bytes */
    uint64_t uint_value;     /* UINT, BOOL (0/1), FRAME */
    double time_value;       /* RELTIME */
    const char *string_value; /* STRING; for NONE the label text */
    uint8_t addr[16];        /* IPV4 (first 4 bytes), IPV6 */
    uint32_t expert;         /* expert registry index, or FTPLENS_NO_EXPERT */
    const char *expert_message; /* non-NULL when expert is set */
} ftplens_item;

/* The items for the last feed or finish, valid until the next mutable call on the session. */
ftplens_result ftplens_session_items(const ftplens_session *session, const ftplens_item **items_out,
                                     size_t *n_items_out);

/* A one-line summary of the last feed for the Info column ("Request: USER anonymous",
 * "Response: 227 Entering ..."), valid until the next mutable call. "" when the last feed completed
 * no line (nothing fed, or the middle of a line still being reassembled). */
const char *ftplens_session_summary(const ftplens_session *session);

/* ---------------------------------------------------------------- sessions held for a long time */

/* How many leading bytes of data, the next bytes of direction dir, to feed now when the caller
 * reassembles lines itself (a dissector over TCP desegmentation) and keeps the rest for later: the
 * whole lines, as ftplens_complete_prefix counts them with the session's max_line. While the session
 * is skipping the rest of an over-long line in that direction, the bytes up to its end count first,
 * and without a line end all of data is returned, so that skipped bytes are never held for
 * reassembly. 0 when session or data is NULL. */
size_t ftplens_session_complete_prefix(const ftplens_session *session, ftplens_direction dir,
                                       const uint8_t *data, size_t len);

/* Free what the last feed or finish published (events, items, summary) and the session's
 * spare capacity, keeping its state: for callers that hold many sessions open between feeds. Every
 * pointer obtained from those results becomes invalid; the summary reads "" until the next feed. */
ftplens_result ftplens_session_release(ftplens_session *session);

/* ================================================================ dissection: the Wireshark glue's core
 *
 * The conversation layer for a host that dissects packet by packet and comes back to packets later:
 * the Wireshark plugin (the Lua fallback uses the same Rust type, ftplens::dissect::Dissector). All FTP
 * knowledge stays here. The host:
 *   1. on the first pass, offers every TCP segment with payload that reaches it (through the control
 *      port, the heuristic, or a connection an EXPECT action routed to it) to ftplens_dissector_segment,
 *      which says whether the connection is FTP control, FTP data, or neither;
 *   2. does what the actions ask (route a predicted data connection to ftplens, hand a connection to
 *      TLS);
 *   3. on every pass, reads the frame's view back (ftplens_dissector_view) and renders it: protocol
 *      column, Info, tree items, expert infos, statistics ticks, the ladder entry, export pieces;
 *   4. at the end of the first pass calls ftplens_dissector_finish, so that open transfers get their
 *      outcome and lines cut off by the end are reported; their items land on the frames they concern.
 * The core tracks TCP sequence numbers itself (a retransmission is not fed twice; a hole is a capture
 * gap), decides which side is the server, pairs replies with commands, binds data connections to
 * transfers, and stores what each frame shows. Hosts do no TCP desegmentation for ftplens: a line cut
 * across segments is shown on the frame that completes it, highlighted from the start of that frame's
 * payload. One dissector is used from one thread.
 */
typedef struct ftplens_dissector ftplens_dissector;

typedef struct ftplens_dissector_config {
    ftplens_limits limits;
    bool hide_passwords; /* every password as one '*' per byte, in items, Info, statistics and the ladder */
    bool export_listings; /* directory listings get export pieces too, named "<directory>.listing" */
} ftplens_dissector_config;

/* A new dissector (one per capture file: make it in the host's init routine, free it in cleanup).
 * config may be NULL (default limits). NULL only on allocation failure. */
ftplens_dissector *ftplens_dissector_new(const ftplens_dissector_config *config);
void ftplens_dissector_free(ftplens_dissector *dissector);

/* How a segment reached the host's dissector. */
typedef uint32_t ftplens_offer;
#define FTPLENS_OFFER_PORT 0      /* a port registered for ftplens: FTP control; which side serves is
                                     the side the connection's opener (FTPLENS_TCP_SYN) reached, else
                                     what the lines say (a reply comes from the server), else the
                                     lower port */
#define FTPLENS_OFFER_HEURISTIC 1 /* another connection, offered to the heuristic */
#define FTPLENS_OFFER_EXPECTED 2  /* a connection an FTPLENS_ACTION_EXPECT routed to ftplens */

/* TCP flags of a segment, when the host knows them. Hosts hand ftplens only segments with payload,
 * so the opening handshake is told on them: SYN and SYN_ACK say who opened the connection (the
 * client of a control connection; without either, the core takes the connection as begun before
 * the capture and lets the lines say which side serves). */
#define FTPLENS_TCP_SYN 0x01     /* the sender opened the connection: this is its SYN, or the host saw
                                     its SYN earlier (Wireshark: the flow's TCP_S_SAW_SYN) */
#define FTPLENS_TCP_FIN 0x02     /* the sender closes its direction */
#define FTPLENS_TCP_RST 0x04     /* the connection was reset */
#define FTPLENS_TCP_SYN_ACK 0x08 /* the sender accepted the connection: this is its SYN-ACK, or the host
                                     saw it earlier (TCP_S_SAW_SYNACK) */
#define FTPLENS_TCP_HIDES_REORDERED 0x10 /* not the segment's but the host's: its TCP hands no retransmitted
                                             or out-of-order segment to subdissectors (Wireshark's default,
                                             tcp.no_subdissector_on_error), so a hole in a data connection may
                                             be bytes the capture holds; a partial transfer's expert info then
                                             says so */

typedef struct ftplens_segment {
    uint32_t stream;      /* the host's number for the TCP connection (Wireshark's tcp.stream) */
    ftplens_endpoint src; /* sender */
    ftplens_endpoint dst;
    uint64_t frame;       /* the host's frame number */
    double ts;            /* seconds */
    uint32_t seq;         /* TCP sequence number of data[0]; relative or absolute, one kind per stream */
    uint32_t flags;       /* FTPLENS_TCP_* of this segment; 0 when unknown */
    const uint8_t *data;
    size_t len;
} ftplens_segment;

typedef uint32_t ftplens_claim;
#define FTPLENS_CLAIM_NONE 0     /* not ftplens's (yet): with OFFER_HEURISTIC offer the next segment again */
#define FTPLENS_CLAIM_CONTROL 1  /* an FTP control connection: route its later segments to ftplens */
#define FTPLENS_CLAIM_DATA 2     /* an FTP data connection */
#define FTPLENS_CLAIM_REJECTED 3 /* the heuristic judged both sides: not FTP; stop offering it. Also
                                  * a new connection while the dissector tracks 1,048,576 at once
                                  * (every table is capped): the first one so rejected is reported by
                                  * the next control frame's view, the stream_cap anomaly and its
                                  * expert */

/* First pass only: one segment, in capture order. *claim_out says what the connection is now.
 * A segment without payload may be offered for its flags (FIN, RST); after ftplens_dissector_finish
 * segments are not fed at all. The core keeps its own TCP sequence state per direction: a segment
 * behind the next expected byte is a retransmission (only its new bytes are fed, so the same segment
 * offered twice is taken once), one ahead of it leaves a capture gap. One frame may bring several
 * pieces, such as the records TLS decrypts on a control connection: offer each with sequence numbers
 * that follow the side's previous bytes. */
ftplens_result ftplens_dissector_segment(ftplens_dissector *dissector, const ftplens_segment *segment,
                                         ftplens_offer offer, ftplens_claim *claim_out);

typedef uint32_t ftplens_action_kind;
/* Route a TCP connection from connector (any address when its family is NONE; any port) to
 * listener:port, or to alt_listener:port when alt_listener's family is not NONE (a NAT'd passive
 * reply), to ftplens from frame on (a Wireshark conversation with the ftplens-data dissector; the Lua
 * fallback claims the port). The listener's family is never NONE. */
#define FTPLENS_ACTION_EXPECT 1
/* The control connection `stream` carries TLS after frame `frame` (AUTH answered 234): hand it to TLS. */
#define FTPLENS_ACTION_START_TLS 2

typedef struct ftplens_action {
    ftplens_action_kind kind;
    uint32_t stream;              /* START_TLS: the control connection */
    uint64_t frame;               /* the frame that made the action */
    ftplens_endpoint listener;    /* EXPECT: address and port */
    ftplens_endpoint alt_listener;
    ftplens_endpoint connector;   /* EXPECT: port 0 */
} ftplens_action;

/* The actions the last ftplens_dissector_segment (or finish) made, in order; valid until the next
 * call on the dissector. */
ftplens_result ftplens_dissector_actions(const ftplens_dissector *dissector,
                                         const ftplens_action **actions_out, size_t *n_out);

typedef uint32_t ftplens_view_kind;
#define FTPLENS_VIEW_NONE 0    /* nothing to show: leave the frame to others */
#define FTPLENS_VIEW_CONTROL 1 /* protocol column "FTP", tree under the ftplens protocol */
#define FTPLENS_VIEW_DATA 2    /* protocol column "FTP-DATA", tree under ftplens-data */

/* One statistics tick: node[0] under the root, node[1] under node[0], node[2] under node[1]; unused
 * levels are NULL. The host ticks each level (stats_tree tick_stat_node). The top nodes are
 * "FTP sessions" (a session's first frame), "Logins by user and outcome" -> user -> success|failure,
 * "Transfers by command and path" -> verb -> path, and "Session details" -> "client -> server" ->
 * one fact each (user, login, duration, transfers, bytes, failed logins, TLS), at the session's last
 * frame once its connection ended (after finish at the latest). */
typedef struct ftplens_stat {
    const char *node[3];
} ftplens_stat;

/* A data frame's share of a transferred object (Export Objects). A control frame that ends a transfer
 * (its final reply) carries one too, with len 0: a rename of the object to its final name (an aborted
 * download becomes ".partial" although its data frames came before the reply, in a single pass). */
typedef struct ftplens_export {
    uint64_t object;        /* 1-based id of the object; 0: nothing to export from this frame */
    const char *filename;   /* the object's name, final after the first pass; ends in ".partial" when the
                               capture lacks some of its bytes or the server did not confirm it */
    const char *server;     /* the session's server address as text, for the host column */
    uint64_t offset;        /* where this frame's new bytes go in the object: bytes the capture lacks
                               before it stay a hole (fill it with zeros; the name then ends in
                               ".partial") */
    uint32_t skip;          /* payload bytes at the start already exported (a retransmission overlap) */
    uint32_t len;           /* new payload bytes */
    bool tls;               /* the payload is TLS: export the clear bytes TLS gives back instead, in order */
} ftplens_export;

typedef struct ftplens_view {
    ftplens_view_kind kind;
    const char *info;          /* the Info column ("" none) */
    const char *title;         /* text after the protocol item's name, e.g. ", to server" ("" none) */
    const ftplens_item *items; /* display order; every target is FTPLENS_TARGET_FRAME; offsets are into
                                  this frame's payload, length 0 means generated */
    size_t n_items;
    const ftplens_stat *stats; /* statistics ticks of this frame */
    size_t n_stats;
    const char *flow;          /* the ladder (Flow Graph) text of this frame; NULL when not an entry */
    ftplens_export export_piece;
    bool tls;                  /* the payload is TLS (a protected data connection): call the TLS dissector */
    bool text;                 /* the payload is text (a listing, TYPE A): show it as lines; for a
                                  TLS channel, the clear bytes TLS gives back */
} ftplens_view;

/* What frame `frame` shows, on any pass (the first pass sees what is known so far). Pointers are valid
 * until the next call on the dissector. FTPLENS_END when the core has nothing for that frame (*out is
 * then a NONE view). */
ftplens_result ftplens_dissector_view(ftplens_dissector *dissector, uint64_t frame, ftplens_view *out);

/* Whether frame `frame` is a data frame of a protected (TLS) data connection, as its view's `tls` says,
 * without making the view: a host that draws nothing for a frame (no tree, no columns, no tap
 * listening, as in tshark's first pass) still hands such a payload to TLS, which must see every record
 * to decrypt the next. */
ftplens_result ftplens_dissector_is_tls_data(ftplens_dissector *dissector, uint64_t frame, bool *out);

/* The first pass is over: end every connection (open transfers get outcome unknown, cut-off lines are
 * reported as incomplete). Later views show it. */
ftplens_result ftplens_dissector_finish(ftplens_dissector *dissector);

/* ================================================================ capture files
 *
 * The analyser of the ftplens command over whole capture files (pcap, pcapng, either gzip-compressed):
 * TCP reassembly, FTP control connections on any port, data connections matched to the command that
 * announced them, sha256 of transferred data. Its records are the JSON lines of `ftplens log`, made by
 * the same serializer, so a caller gets the same keys and values as the command.
 *
 * Use: fill options with ftplens_capture_options_default and change what you need; open an analysis
 * over one or more paths; call ftplens_capture_next until FTPLENS_END; read ftplens_capture_report;
 * free. The files are read on a thread of the library that runs ahead of the caller by at most about
 * one MiB of records, so memory stays flat whatever the capture size. One analysis is used from one
 * thread at a time; different analyses run in parallel.
 *
 * A library built without capture support (the Rust feature "cli" off) answers false to
 * ftplens_capture_supported and FTPLENS_ERR_INVALID_ARGUMENT to ftplens_capture_open.
 */
typedef struct ftplens_capture ftplens_capture;

/* The options of `ftplens log`; ftplens_capture_options_default gives the command's defaults. */
typedef struct ftplens_capture_options {
    const char *hash;           /* digests of transferred data as --hash takes them: a comma list of
                                   sha256, md5, sha1, or "none"; NULL means sha256 (the default) */
    double tcp_timeout;         /* seconds of capture time before an idle connection is closed; > 0 */
    uint64_t memcap;            /* out-of-order bytes held by all TCP streams together; > 0 */
    uint64_t stream_memcap;     /* out-of-order bytes held by one TCP stream; > 0 */
    double late_window;         /* seconds a data connection may precede its announcement; >= 0 */
    const uint16_t *ftp_ports;  /* more ports whose connections are FTP control (21 always is) */
    size_t n_ftp_ports;
    const char *const *limits;  /* session limits as "NAME=N" (--limit), e.g. "max_line=65536"; */
    size_t n_limits;            /* names and ranges as ftplens_limit_get gives them */
} ftplens_capture_options;

/* True when this library can read capture files. */
bool ftplens_capture_supported(void);

/* Fill *out with the defaults of `ftplens log`. NULL is ignored. */
void ftplens_capture_options_default(ftplens_capture_options *out);

/* Start analysing paths[0..n_paths] (file names as bytes, NUL-terminated), in that order, as
 * `ftplens log PATH...` would: with several paths every record carries a "file" key naming its input,
 * and uids differ between inputs. options may be NULL (the defaults); its arrays are copied. On
 * success *out is a handle to free with ftplens_capture_free. FTPLENS_ERR_INVALID_ARGUMENT for an
 * option out of range or a limit the command would refuse (*out is then NULL). A path that cannot be
 * read is not an error here: it ends with an error in the report. */
ftplens_result ftplens_capture_open(const char *const *paths, size_t n_paths,
                                    const ftplens_capture_options *options, ftplens_capture **out);

/* The next records: *data_out points to *len_out bytes (not NUL-terminated) of one or more complete
 * JSON lines, each ending in "\n", valid until the next call on this analysis. Blocks until records
 * are ready. Returns FTPLENS_OK, FTPLENS_END when every input is done, or FTPLENS_ERR_PANIC when the
 * analysis hit an internal bug (then the records already returned are all there will be). */
ftplens_result ftplens_capture_next(ftplens_capture *capture, const uint8_t **data_out,
                                    size_t *len_out);

/* One JSON line per input finished so far, in input order: {"file", "format", "frames", "bytes",
 * "error" (the input could not be read as a capture), "stopped" (reading stopped early: the records
 * cover the frames before), "unknown_link", "io_errors", "sessions", "transfers", "anomalies"}.
 * NUL-terminated, "" before any input is done; valid until the next call on this analysis. */
const char *ftplens_capture_report(const ftplens_capture *capture);

/* Stop the analysis (the reading thread is told to stop and joined) and free it. NULL is ignored.
 * Invalidates every pointer the analysis returned. */
void ftplens_capture_free(ftplens_capture *capture);

#ifdef __cplusplus
}
#endif

#endif /* FTPLENS_H */
