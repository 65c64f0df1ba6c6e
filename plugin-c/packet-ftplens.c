/* packet-ftplens.c
 * Wireshark epan plugin for ftplens: FTP control and data connections, analysed by the ftplens core.
 *
 * The FTP knowledge lives in the Rust core (include/ftplens.h). This file is glue: it registers the
 * fields and expert infos the core's registries name, feeds whole lines of TCP payload to one core
 * session per control connection on the first pass, stores the tree items the core returns, and
 * renders only stored items, so every pass shows the same thing. It parses no FTP itself.
 *
 * Copyright the ftplens authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <string.h>
#include <math.h>

#include <wireshark.h>
#include <ws_version.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/expert.h>
#include <epan/conversation.h>
#include <epan/proto_data.h>
#include <epan/tap.h>
#include <epan/export_object.h>
#include <epan/stats_tree.h>
#include <epan/to_str.h>
#include <epan/dissectors/packet-tcp.h>

#include "../include/ftplens.h"

#define WS_AT_LEAST(maj, min) \
    (WIRESHARK_VERSION_MAJOR > (maj) || (WIRESHARK_VERSION_MAJOR == (maj) && WIRESHARK_VERSION_MINOR >= (min)))

#if WS_AT_LEAST(4, 2)
#include <wsutil/plugins.h> /* WS_PLUGIN_DESC_DISSECTOR; not installed with 4.0 */
#endif

/* epan moved from GLib's gboolean to C99 bool in 4.4 (heuristic dissectors, boolean preferences). */
#if WS_AT_LEAST(4, 4)
typedef bool ws_bool;
#else
typedef gboolean ws_bool;
#endif

/* packet-tls-utils.h declares these (exported from libwireshark since 2.x, same signature in 4.0 to
 * 4.4), but it pulls in gcrypt and gnutls headers that a plain libwireshark-dev install may lack. */
WS_DLL_PUBLIC guint32 ssl_starttls_ack(dissector_handle_t tls_handle, packet_info *pinfo,
                                       dissector_handle_t app_handle);
WS_DLL_PUBLIC void tls_set_appdata_dissector(dissector_handle_t tls_handle, packet_info *pinfo,
                                             dissector_handle_t app_handle);

#ifndef PLUGIN_VERSION
#define PLUGIN_VERSION "0.1.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);
#if WS_AT_LEAST(4, 2)
WS_DLL_PUBLIC uint32_t plugin_describe(void);
#endif

void proto_register_ftplens(void);
void proto_reg_handoff_ftplens(void);

#define FTPLENS_TCP_PORTS "21"
/* The Protocol column names what is on the wire, as the built-in does, so that users' colouring rules
 * and habits keep working; the filter names stay ftplens / ftplens-data (an "ftp" would clash). */
#define COLUMN_CONTROL "FTP"
#define COLUMN_DATA "FTP-DATA"
#define MAX_DEPTH 16
#define MIB (1024u * 1024u)

static int proto_ftplens = -1;
static int proto_ftplens_data = -1;
static gint ett_ftplens = -1;
static gint ett_ftplens_data = -1;

/* One Wireshark field, one subtree type and one expert field per registry entry. */
static size_t n_fields;
static int *hf_ids;
static gint *ett_fields;
static ftplens_field_info *field_infos;
static size_t n_experts;
static expert_field *ei_ids;

static dissector_handle_t ftplens_handle;
static dissector_handle_t ftplens_data_handle;
static dissector_handle_t ftplens_data_clear_handle; /* the decrypted payload of a protected data channel */
static dissector_handle_t tls_handle;
static dissector_handle_t builtin_ftp_handle; /* given port 21 back while ftplens is disabled */

static int ftplens_tap = -1;    /* records of logins and transfers, for -z ftplens,tree */
static int ftplens_eo_tap = -1; /* export objects ("ftplens") */

static ws_bool pref_heuristic = TRUE;
static guint pref_export_max_mib = 64;
static ws_bool pref_hide_passwords = FALSE; /* the core masks them in everything it publishes */
static size_t n_limits;
static guint *pref_limits; /* one preference per core limit (ftplens_limit_get), by its index */

/* ------------------------------------------------------------------------ state */

/* Items kept for later passes, packed by the core (ftplens_packed_next decodes them). Runs concatenate,
 * so a list grows by appending. */
typedef struct {
    guint8 *data;
    guint32 len;
} packed_t;

/* One data channel of a session (what DATA_EXPECTED announced and TRANSFER_* described). Data
 * conversations point to it (conversation_add_proto_data under proto_ftplens_data). */
typedef struct {
    guint32 channel_id;
    packed_t items;      /* items with target CHANNEL */
    /* from events, first pass */
    gchar *command;      /* transfer verb, upper-case; NULL before TRANSFER_STARTED */
    gchar *file;         /* its argument as sent */
    gchar *export_name;  /* file name for export objects; NULL when not a file transfer */
    gboolean tls;        /* a protected data channel (RFC 4217): it carries TLS */
    address server;      /* the session's server, named in the export objects' host column */
    /* export de-duplication, first pass */
    gboolean eo_started;
    address eo_src;
    guint32 eo_srcport;
    guint32 eo_nextseq;
} chan_t;

/* One control connection. */
typedef struct {
    ftplens_session *sess;    /* NULL until the connection is claimed, and after the first pass */
    gboolean finished;        /* the first pass is over: the session was finished and freed */
    guint32 id;
    guint32 last_frame;       /* the last frame fed, and its time: where a finish's items show */
    double last_ts;
    address server_addr;
    guint32 server_port;
    gboolean prot_p;          /* DATA_PROTECTED seen */
    gboolean fed_any;         /* the first PDU was fed (the stats tap counts the session then) */
    gboolean heur_checked[2]; /* the heuristic looked at the first payload of this side */
    gboolean heur_rejected;
    wmem_map_t *channels;     /* channel_id -> chan_t*; NULL until the first channel */
} ctrl_conv_t;

/* Tap records: what -z ftplens,tree counts. */
typedef struct {
    gchar *user;
    gboolean success;
} tap_login_t;

typedef struct {
    gchar *command;
    gchar *path;
} tap_transfer_t;

typedef struct {
    guint32 session_id;
    gboolean new_session;
    wmem_array_t *logins;    /* tap_login_t; NULL when none */
    wmem_array_t *transfers; /* tap_transfer_t; NULL when none */
} ftplens_tap_rec_t;

/* What one call of the control dissector fed, kept for every later pass. */
typedef struct {
    packed_t items;      /* items with target FRAME */
    guint32 prefix;      /* how many bytes were fed; TCP was asked to keep the rest for the next PDU */
    gchar *summary;
    gboolean to_server;
    gboolean tls_upgrade;
    ftplens_tap_rec_t tap;
} pdu_rec_t;

/* What one data packet adds to its channel's exported file. */
typedef struct {
    chan_t *chan;
    guint32 skip; /* bytes at the start already seen (retransmission overlap) */
    guint32 hole; /* bytes the capture lost just before these (a TCP sequence gap) */
    guint32 len;
    gboolean exportable;
} eo_frag_t;

typedef struct {
    chan_t *chan;
    guint8 *bytes;
    guint32 len;
    guint32 hole; /* lost bytes before these: the file keeps every byte at its offset */
} eo_rec_t;

static GPtrArray *sessions;          /* ctrl_conv_t* with a core session, finished after the first pass */
static guint32 session_count;
static wmem_map_t *earlier_items;    /* frame number -> packed_t of items added by later frames */

/* Export-object bookkeeping (reset by the export-object reset callback). */
static GHashTable *eo_rows;          /* chan_t* -> row + 1 */
static guint32 eo_row_count;

/* ------------------------------------------------------------------------ helpers */

/* Keep a copy of a packed run, after what the list holds. */
static void
packed_append(packed_t *list, const ftplens_packed *run)
{
    if (run->len == 0 || run->len > G_MAXUINT32 - list->len)
        return;
    list->data = (guint8 *)wmem_realloc(wmem_file_scope(), list->data, list->len + run->len);
    memcpy(list->data + list->len, run->data, run->len);
    list->len += (guint32)run->len;
}

static gboolean
endpoint_to_address(const ftplens_endpoint *ep, address *out)
{
    if (ep->family == FTPLENS_FAMILY_IPV4) {
        set_address(out, AT_IPv4, 4, ep->addr);
        return TRUE;
    }
    if (ep->family == FTPLENS_FAMILY_IPV6) {
        set_address(out, AT_IPv6, 16, ep->addr);
        return TRUE;
    }
    clear_address(out);
    return FALSE;
}

static void
address_to_endpoint(const address *a, guint32 port, ftplens_endpoint *out)
{
    memset(out, 0, sizeof *out);
    if (a->type == AT_IPv4 && a->len == 4) {
        out->family = FTPLENS_FAMILY_IPV4;
        memcpy(out->addr, a->data, 4);
    } else if (a->type == AT_IPv6 && a->len == 16) {
        out->family = FTPLENS_FAMILY_IPV6;
        memcpy(out->addr, a->data, 16);
    } else {
        return;
    }
    out->port = (guint16)port;
}

static int
expert_group(ftplens_expert_group g)
{
    switch (g) {
    case FTPLENS_GROUP_SECURITY:      return PI_SECURITY;
    case FTPLENS_GROUP_PROTOCOL:      return PI_PROTOCOL;
    case FTPLENS_GROUP_MALFORMED:     return PI_MALFORMED;
    case FTPLENS_GROUP_SEQUENCE:      return PI_SEQUENCE;
    case FTPLENS_GROUP_RESPONSE_CODE: return PI_RESPONSE_CODE;
    default:                          return PI_PROTOCOL;
    }
}

static int
expert_severity(ftplens_expert_severity s)
{
    switch (s) {
    case FTPLENS_SEVERITY_CHAT:  return PI_CHAT;
    case FTPLENS_SEVERITY_NOTE:  return PI_NOTE;
    case FTPLENS_SEVERITY_WARN:  return PI_WARN;
    case FTPLENS_SEVERITY_ERROR: return PI_ERROR;
    default:                     return PI_NOTE;
    }
}

/* ------------------------------------------------------------------------ rendering */

/* Add the packed items of list to root, nesting by depth. own_bytes: offsets point into tvb (else all
 * generated). */
static void
render_items(proto_tree *root, tvbuff_t *tvb, packet_info *pinfo, const packed_t *list, gboolean own_bytes)
{
    proto_item *owner[MAX_DEPTH + 1];
    guint32 owner_field[MAX_DEPTH + 1];
    proto_tree *sub[MAX_DEPTH + 1];
    guint valid = 0; /* items may be added at depths 0..valid */
    size_t pos = 0;
    ftplens_item item;
    const ftplens_item *it = &item;
    guint captured;

    if (!list || !list->len)
        return;
    if (!root) {
        /* No tree (tshark's first pass, or taps that need none): nothing to draw, but expert infos still
         * count (the packet's expert severity, the expert tap), as when items are added to a NULL tree. */
        while (ftplens_packed_next(list->data, list->len, &pos, &item) == FTPLENS_OK) {
            if (it->expert == FTPLENS_NO_EXPERT || it->expert >= n_experts)
                continue;
            if (it->field >= n_fields || hf_ids[it->field] <= 0 || field_infos[it->field].type > FTPLENS_FT_IPV6)
                continue;
            expert_add_info_format(pinfo, NULL, &ei_ids[it->expert], "%s",
                                   it->expert_message ? it->expert_message : "");
        }
        return;
    }

    captured = tvb_captured_length(tvb);
    memset(owner, 0, sizeof owner);
    memset(sub, 0, sizeof sub);
    sub[0] = root;

    while (ftplens_packed_next(list->data, list->len, &pos, &item) == FTPLENS_OK) {
        if (it->field >= n_fields || hf_ids[it->field] <= 0)
            continue; /* not a registry index, or an entry that could not be registered */
        guint d = it->depth < MAX_DEPTH ? it->depth : MAX_DEPTH - 1;
        if (d > valid)
            d = valid;
        if (d > 0 && sub[d] == NULL)
            sub[d] = proto_item_add_subtree(owner[d - 1], ett_fields[owner_field[d - 1]]);
        proto_tree *t = sub[d];

        int hf = hf_ids[it->field];
        gint off = 0, len = 0;
        if (own_bytes && it->length > 0 && (guint64)it->offset + it->length <= captured) {
            off = (gint)it->offset;
            len = (gint)it->length;
        }

        proto_item *pi = NULL;
        switch (field_infos[it->field].type) {
        case FTPLENS_FT_NONE:
            if (it->string_value && *it->string_value)
                pi = proto_tree_add_none_format(t, hf, tvb, off, len, "%s", it->string_value);
            else
                pi = proto_tree_add_item(t, hf, tvb, off, len, ENC_NA);
            break;
        case FTPLENS_FT_STRING:
            pi = proto_tree_add_string(t, hf, tvb, off, len, it->string_value ? it->string_value : "");
            break;
        case FTPLENS_FT_UINT:
            pi = proto_tree_add_uint64(t, hf, tvb, off, len, it->uint_value);
            break;
        case FTPLENS_FT_BOOL:
            pi = proto_tree_add_boolean(t, hf, tvb, off, len, it->uint_value != 0);
            break;
        case FTPLENS_FT_FRAME:
            pi = proto_tree_add_uint(t, hf, tvb, off, len, (guint32)it->uint_value);
            break;
        case FTPLENS_FT_RELTIME: {
            nstime_t ts;
            double secs = it->time_value < 0 ? 0 : it->time_value;
            ts.secs = (time_t)floor(secs);
            ts.nsecs = (int)((secs - floor(secs)) * 1e9);
            pi = proto_tree_add_time(t, hf, tvb, off, len, &ts);
            break;
        }
        case FTPLENS_FT_IPV4: {
            ws_in4_addr v4;
            memcpy(&v4, it->addr, 4);
            pi = proto_tree_add_ipv4(t, hf, tvb, off, len, v4);
            break;
        }
        case FTPLENS_FT_IPV6:
            pi = proto_tree_add_ipv6(t, hf, tvb, off, len, (const ws_in6_addr *)it->addr);
            break;
        default:
            continue;
        }
        if (it->generated || len == 0)
            proto_item_set_generated(pi);
        if (it->expert != FTPLENS_NO_EXPERT && it->expert < n_experts)
            expert_add_info_format(pinfo, pi, &ei_ids[it->expert], "%s",
                                   it->expert_message ? it->expert_message : "");

        owner[d] = pi;
        owner_field[d] = it->field;
        sub[d + 1] = NULL;
        valid = d + 1;
    }
}

/* ------------------------------------------------------------------------ control state */

static chan_t *
get_channel(ctrl_conv_t *cs, guint32 channel_id)
{
    if (!cs->channels)
        cs->channels = wmem_map_new(wmem_file_scope(), g_direct_hash, g_direct_equal);
    chan_t *ch = (chan_t *)wmem_map_lookup(cs->channels, GUINT_TO_POINTER(channel_id));
    if (!ch) {
        ch = wmem_new0(wmem_file_scope(), chan_t);
        ch->channel_id = channel_id;
        ch->tls = cs->prot_p;
        copy_address_wmem(wmem_file_scope(), &ch->server, &cs->server_addr);
        wmem_map_insert(cs->channels, GUINT_TO_POINTER(channel_id), ch);
    }
    return ch;
}

static ctrl_conv_t *
get_ctrl_conv(conversation_t *conv, gboolean create)
{
    ctrl_conv_t *cs = (ctrl_conv_t *)conversation_get_proto_data(conv, proto_ftplens);
    if (!cs && create) {
        cs = wmem_new0(wmem_file_scope(), ctrl_conv_t);
        conversation_add_proto_data(conv, proto_ftplens, cs);
    }
    return cs;
}

/* Claim the connection: start a core session. src_is_server says which side serves. */
static void
start_session(ctrl_conv_t *cs, packet_info *pinfo, gboolean src_is_server)
{
    ftplens_session_config cfg;
    memset(&cfg, 0, sizeof cfg);
    for (size_t i = 0; i < n_limits; i++)
        ftplens_limits_set(&cfg.limits, i, pref_limits[i]);
    if (src_is_server) {
        copy_address_wmem(wmem_file_scope(), &cs->server_addr, &pinfo->src);
        cs->server_port = pinfo->srcport;
        address_to_endpoint(&pinfo->src, pinfo->srcport, &cfg.server);
        address_to_endpoint(&pinfo->dst, pinfo->destport, &cfg.client);
    } else {
        copy_address_wmem(wmem_file_scope(), &cs->server_addr, &pinfo->dst);
        cs->server_port = pinfo->destport;
        address_to_endpoint(&pinfo->dst, pinfo->destport, &cfg.server);
        address_to_endpoint(&pinfo->src, pinfo->srcport, &cfg.client);
    }
    cs->sess = ftplens_session_new(&cfg);
    if (cs->sess) {
        ftplens_session_set_hide_passwords(cs->sess, pref_hide_passwords);
        g_ptr_array_add(sessions, cs);
    }
    cs->id = ++session_count;
}

/* Create the data conversation(s) a DATA_EXPECTED event announces. */
static void
expect_data(ctrl_conv_t *cs, packet_info *pinfo, const ftplens_event *ev)
{
    chan_t *ch = get_channel(cs, ev->channel_id);
    const ftplens_endpoint *listeners[2] = { &ev->data, &ev->alt_data };
    address peer;
    guint options = NO_PORT2;

    if (!endpoint_to_address(&ev->peer, &peer))
        options |= NO_ADDR2;
    for (int i = 0; i < 2; i++) {
        address listener;
        if (!endpoint_to_address(listeners[i], &listener)) {
            if (i == 1)
                break;
            /* An extended passive reply gives a port only: the control connection's server listens. */
            copy_address_shallow(&listener, &cs->server_addr);
        }
        conversation_t *dc = conversation_new(pinfo->num, &listener, &peer, CONVERSATION_TCP,
                                              listeners[i]->port, 0, options);
        conversation_set_dissector(dc, ftplens_data_handle);
        conversation_add_proto_data(dc, proto_ftplens_data, ch);
    }
}


/* Record a transfer's metadata on its channel, for export objects, the Info column and the stats tap. */
static void
note_transfer(ctrl_conv_t *cs, packet_info *pinfo, pdu_rec_t *rec, const ftplens_event *ev)
{
    chan_t *ch = get_channel(cs, ev->channel_id);
    const gchar *verb = ev->command ? ev->command : "";
    const gchar *arg = ev->arg ? ev->arg : "";
    const gchar *path = ev->path && *ev->path ? ev->path : arg;

    ch->tls = ev->data_tls;
    /* The core names files (a listing has none); a later start event may bring the server's name,
     * and the end event marks a file the server did not confirm as partial. */
    if (ev->export_name)
        ch->export_name = wmem_strdup(wmem_file_scope(), ev->export_name);
    if (ev->kind == FTPLENS_EVENT_TRANSFER_ENDED && ev->export_name && pinfo &&
        have_tap_listener(ftplens_eo_tap)) {
        /* The data usually came before the end: tell export objects the final name now. */
        eo_rec_t *r = wmem_new0(pinfo->pool, eo_rec_t);
        r->chan = ch;
        tap_queue_packet(ftplens_eo_tap, pinfo, r);
    }
    if (ev->kind != FTPLENS_EVENT_TRANSFER_STARTED)
        return;
    if (ch->command)
        return;
    ch->command = wmem_strdup(wmem_file_scope(), verb);
    ch->file = wmem_strdup(wmem_file_scope(), arg);
    if (!rec)
        return;
    tap_transfer_t tt;
    tt.command = ch->command;
    tt.path = wmem_strdup(wmem_file_scope(), *path ? path : "(none)");
    if (!rec->tap.transfers)
        rec->tap.transfers = wmem_array_new(wmem_file_scope(), sizeof(tap_transfer_t));
    wmem_array_append_one(rec->tap.transfers, tt);
}

/* The list of items a later frame added to frame f (such as response_in on a request). */
static packed_t *
earlier_list(guint32 f)
{
    packed_t *list = (packed_t *)wmem_map_lookup(earlier_items, GUINT_TO_POINTER(f));
    if (!list) {
        list = wmem_new0(wmem_file_scope(), packed_t);
        wmem_map_insert(earlier_items, GUINT_TO_POINTER(f), list);
    }
    return list;
}

/* Keep the last feed's (or finish's) items packed, each run with its destination: this frame (in
 * frame_items, or when that is NULL among the items later frames add to `frame`), an earlier frame,
 * or a data channel. */
static void
keep_items(ctrl_conv_t *cs, guint32 frame, packed_t *frame_items)
{
    const ftplens_packed *runs = NULL;
    size_t n_runs = 0;

    if (ftplens_session_packed(cs->sess, &runs, &n_runs) != FTPLENS_OK)
        return;
    for (size_t i = 0; i < n_runs; i++) {
        const ftplens_packed *run = &runs[i];
        packed_t *dest;
        if (run->target == FTPLENS_TARGET_EARLIER && run->target_frame != frame)
            dest = earlier_list((guint32)run->target_frame);
        else if (run->target == FTPLENS_TARGET_CHANNEL)
            dest = &get_channel(cs, run->channel_id)->items;
        else
            dest = frame_items ? frame_items : earlier_list(frame);
        packed_append(dest, run);
    }
}

/* First pass: feed whole lines to the session; keep what it says. The record itself is the packet's
 * (pinfo->pool): the caller keeps a copy only when there is something to keep. */
static pdu_rec_t *
feed_pdu(ctrl_conv_t *cs, packet_info *pinfo, const guint8 *buf, guint len, gboolean to_server)
{
    pdu_rec_t *rec = wmem_new0(pinfo->pool, pdu_rec_t);
    const gchar *summary;
    size_t n_events = 0;
    ftplens_result r;

    rec->to_server = to_server;
    rec->prefix = len;
    rec->tap.session_id = cs->id; /* items, logins and transfers: NULL until there are some */
    if (!cs->fed_any) {
        rec->tap.new_session = TRUE;
        cs->fed_any = TRUE;
    }
    if (!cs->sess) {
        rec->summary = wmem_strdup(wmem_file_scope(), "(ftplens: no session)");
        return rec;
    }

    r = ftplens_session_feed(cs->sess, to_server ? FTPLENS_DIR_TO_SERVER : FTPLENS_DIR_TO_CLIENT, buf, len,
                             pinfo->num, nstime_to_sec(&pinfo->abs_ts), &n_events);
    if (r != FTPLENS_OK) {
        rec->summary = wmem_strdup_printf(wmem_file_scope(), "(ftplens core error %u)", r);
        return rec;
    }

    for (size_t i = 0; i < n_events; i++) {
        ftplens_event ev;
        if (ftplens_session_event(cs->sess, i, &ev) != FTPLENS_OK)
            continue;
        switch (ev.kind) {
        case FTPLENS_EVENT_DATA_EXPECTED:
            expect_data(cs, pinfo, &ev);
            break;
        case FTPLENS_EVENT_TRANSFER_STARTED:
        case FTPLENS_EVENT_TRANSFER_ENDED:
            note_transfer(cs, pinfo, rec, &ev);
            break;
        case FTPLENS_EVENT_TLS_UPGRADE:
            rec->tls_upgrade = TRUE;
            break;
        case FTPLENS_EVENT_DATA_PROTECTED:
            cs->prot_p = TRUE;
            break;
        case FTPLENS_EVENT_LOGIN:
            if (ev.login_state == FTPLENS_LOGIN_SUCCESS || ev.login_state == FTPLENS_LOGIN_FAILURE) {
                tap_login_t tl;
                tl.user = wmem_strdup(wmem_file_scope(), ev.user && *ev.user ? ev.user : "(none)");
                tl.success = ev.login_state == FTPLENS_LOGIN_SUCCESS;
                if (!rec->tap.logins)
                    rec->tap.logins = wmem_array_new(wmem_file_scope(), sizeof(tap_login_t));
                wmem_array_append_one(rec->tap.logins, tl);
            }
            break;
        default:
            break;
        }
    }

    keep_items(cs, pinfo->num, &rec->items);
    cs->last_frame = pinfo->num;
    cs->last_ts = nstime_to_sec(&pinfo->abs_ts);
    summary = ftplens_session_summary(cs->sess);
    rec->summary = *summary ? wmem_strdup(wmem_file_scope(), summary) : (gchar *)"";
    /* Everything is copied: let the session give back its output buffers until the next feed (a
     * capture may hold many thousands of idle sessions). */
    ftplens_session_release(cs->sess);
    return rec;
}

/* The how-many-th PDU of this frame the current call is (0-based), counted afresh on each pass. */
#define PDU_COUNTER_KEY 0x7fffffffu
static guint32
next_pdu_key(packet_info *pinfo)
{
    guint32 k = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_ftplens, PDU_COUNTER_KEY));
    p_add_proto_data(pinfo->pool, pinfo, proto_ftplens, PDU_COUNTER_KEY, GUINT_TO_POINTER(k + 1));
    return k;
}

static gboolean
sent_to_server(const ctrl_conv_t *cs, const packet_info *pinfo)
{
    return pinfo->destport == cs->server_port && addresses_equal(&pinfo->dst, &cs->server_addr);
}

/* Dissect whole lines of a claimed control connection. */
static int
dissect_ctrl_lines(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, ctrl_conv_t *cs)
{
    guint len = tvb_captured_length(tvb);
    const guint8 *buf = tvb_get_ptr(tvb, 0, len);
    gboolean to_server = sent_to_server(cs, pinfo);
    pdu_rec_t *rec = NULL;
    guint32 key = 0;
    guint prefix;

    if (!PINFO_FD_VISITED(pinfo)) {
        /* The core says how much is whole lines; an unfinished line waits for TCP to bring the rest
         * (except while the core skips an over-long line: those bytes are fed as they come). */
        prefix = pinfo->can_desegment
                     ? (guint)ftplens_session_complete_prefix(cs->sess, to_server ? FTPLENS_DIR_TO_SERVER
                                                                                  : FTPLENS_DIR_TO_CLIENT,
                                                              buf, len)
                     : len;
        if (prefix == 0 && cs->sess) {
            pinfo->desegment_offset = 0;
            pinfo->desegment_len = DESEGMENT_ONE_MORE_SEGMENT;
            return len;
        }
        key = next_pdu_key(pinfo);
        rec = feed_pdu(cs, pinfo, buf, cs->sess ? prefix : len, to_server);
        if (rec->items.len || *rec->summary || rec->tls_upgrade || rec->prefix < len || rec->tap.new_session ||
            rec->tap.logins || rec->tap.transfers) {
            rec = (pdu_rec_t *)wmem_memdup(wmem_file_scope(), rec, sizeof *rec);
            p_add_proto_data(wmem_file_scope(), pinfo, proto_ftplens, key, rec);
        }
        /* else: bytes of an over-long line being skipped. Nothing to keep: a later pass finds no record
         * and shows the bytes as such, so a line that never ends costs no memory per frame. */
    } else {
        key = next_pdu_key(pinfo);
        rec = (pdu_rec_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_ftplens, key);
    }
    prefix = rec ? rec->prefix : len;
    if (prefix < len && pinfo->can_desegment) {
        pinfo->desegment_offset = (int)prefix;
        pinfo->desegment_len = DESEGMENT_ONE_MORE_SEGMENT;
    }

    col_set_str(pinfo->cinfo, COL_PROTOCOL, COLUMN_CONTROL);
    proto_item *ti = proto_tree_add_item(tree, proto_ftplens, tvb, 0, (gint)prefix, ENC_NA);
    proto_tree *ftree = proto_item_add_subtree(ti, ett_ftplens);
    if (!rec) {
        proto_item_append_text(ti, " (inside an over-long line: skipped)");
        return len;
    }

    if (*rec->summary) { /* a feed that completes no line (a long line's middle) leaves TCP's Info */
        if (key == 0)
            col_clear(pinfo->cinfo, COL_INFO);
        col_append_sep_str(pinfo->cinfo, COL_INFO, " | ", rec->summary);
    }
    proto_item_append_text(ti, ", %s", rec->to_server ? "to server" : "to client");

    render_items(ftree, tvb, pinfo, &rec->items, TRUE);
    if (key == 0)
        render_items(ftree, tvb, pinfo, (const packed_t *)wmem_map_lookup(earlier_items, GUINT_TO_POINTER(pinfo->num)),
                     FALSE);
    if (rec->tls_upgrade && tls_handle) {
        ssl_starttls_ack(tls_handle, pinfo, ftplens_handle);
        /* ssl_starttls_ack sets TLS as the conversation's dissector from frame 0 on, but a connection
         * the heuristic claimed has ftplens set from its claiming frame on, and the latest start wins:
         * without this, TLS would never see the records on a port found by the heuristic (2221, ...). */
        if (!PINFO_FD_VISITED(pinfo))
            conversation_set_dissector_from_frame_number(find_or_create_conversation(pinfo), pinfo->num + 1,
                                                         tls_handle);
    }
    if (have_tap_listener(ftplens_tap))
        tap_queue_packet(ftplens_tap, pinfo, &rec->tap);
    return len;
}

/* Which side of the connection sent this packet: 0 or 1, the same for both directions' view. */
static int
packet_side(const packet_info *pinfo)
{
    int c = cmp_address(&pinfo->src, &pinfo->dst);
    if (c == 0)
        c = pinfo->srcport < pinfo->destport ? -1 : 1;
    return c < 0 ? 0 : 1;
}

/* The control dissector, as registered on tcp.port (and set on claimed conversations). */
static int
dissect_ftplens(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    conversation_t *conv = find_or_create_conversation(pinfo);
    ctrl_conv_t *cs = get_ctrl_conv(conv, !PINFO_FD_VISITED(pinfo));

    if (cs && !cs->sess && !cs->finished && !PINFO_FD_VISITED(pinfo)) {
        /* Who is the server? The core's verdict on these bytes, else the registered port. */
        guint len = tvb_captured_length(tvb);
        ftplens_verdict v = ftplens_heuristic(tvb_get_ptr(tvb, 0, len), len);
        gboolean src_is_server;
        if (v == FTPLENS_VERDICT_SERVER)
            src_is_server = TRUE;
        else if (v == FTPLENS_VERDICT_CLIENT)
            src_is_server = FALSE;
        else if (pinfo->match_uint == pinfo->destport)
            src_is_server = FALSE;
        else if (pinfo->match_uint == pinfo->srcport)
            src_is_server = TRUE;
        else
            src_is_server = pinfo->srcport < pinfo->destport;
        start_session(cs, pinfo, src_is_server);
    }
    if (!cs || !cs->server_port) {
        col_set_str(pinfo->cinfo, COL_PROTOCOL, COLUMN_CONTROL);
        proto_tree_add_item(tree, proto_ftplens, tvb, 0, -1, ENC_NA);
        return tvb_captured_length(tvb);
    }
    return dissect_ctrl_lines(tvb, pinfo, tree, cs);
}

/* The heuristic: the core judges the first payload of each side; a verdict claims the connection. */
static ws_bool
dissect_ftplens_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    if (!pref_heuristic || PINFO_FD_VISITED(pinfo))
        return FALSE;

    conversation_t *conv = find_or_create_conversation(pinfo);
    ctrl_conv_t *cs = get_ctrl_conv(conv, FALSE);
    if (cs && (cs->heur_rejected || cs->sess))
        return FALSE;

    int side = packet_side(pinfo);
    if (cs && cs->heur_checked[side])
        return FALSE;

    guint len = tvb_captured_length(tvb);
    ftplens_verdict v = ftplens_heuristic(tvb_get_ptr(tvb, 0, len), len);
    if (v == FTPLENS_VERDICT_UNSURE)
        return FALSE; /* look again at the next payload of this side */

    cs = get_ctrl_conv(conv, TRUE);
    cs->heur_checked[side] = TRUE;
    if (v != FTPLENS_VERDICT_SERVER && v != FTPLENS_VERDICT_CLIENT) {
        if (v == FTPLENS_VERDICT_NOT_FTP && cs->heur_checked[!side])
            cs->heur_rejected = TRUE;
        return FALSE;
    }

    start_session(cs, pinfo, v == FTPLENS_VERDICT_SERVER);
    conversation_set_dissector_from_frame_number(conv, pinfo->num, ftplens_handle);
    dissect_ctrl_lines(tvb, pinfo, tree, cs);
    (void)data;
    return TRUE;
}

/* ------------------------------------------------------------------------ data channels */

/* Hand this packet's new bytes (worked out on the first pass, stored under key) to export objects. */
static void
queue_export(tvbuff_t *tvb, packet_info *pinfo, guint32 key)
{
    if (!have_tap_listener(ftplens_eo_tap))
        return;
    eo_frag_t *frag = (eo_frag_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_ftplens_data, key);
    if (frag && frag->exportable && frag->len > 0 && frag->skip + frag->len <= tvb_captured_length(tvb)) {
        eo_rec_t *r = wmem_new0(pinfo->pool, eo_rec_t);
        r->chan = frag->chan;
        r->len = frag->len;
        r->hole = frag->hole;
        r->bytes = (guint8 *)tvb_memdup(pinfo->pool, tvb, frag->skip, frag->len);
        tap_queue_packet(ftplens_eo_tap, pinfo, r);
    }
}

/* The channel a data packet belongs to. Later passes take it from the packet's export fragment, which
 * holds what the first pass found, and skip the conversation lookup; otherwise (the first pass, or a
 * packet the first pass found no channel for) the conversation says. */
static chan_t *
data_channel(packet_info *pinfo, guint32 key)
{
    if (PINFO_FD_VISITED(pinfo)) {
        const eo_frag_t *frag = (const eo_frag_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_ftplens_data, key);
        if (frag)
            return frag->chan;
    }
    conversation_t *conv = find_conversation_pinfo(pinfo, 0);
    return conv ? (chan_t *)conversation_get_proto_data(conv, proto_ftplens_data) : NULL;
}

static int
dissect_ftplens_data(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    struct tcpinfo *tcpinfo = (struct tcpinfo *)data;
    chan_t *ch = data_channel(pinfo, 0);
    guint len = tvb_captured_length(tvb);

    col_set_str(pinfo->cinfo, COL_PROTOCOL, COLUMN_DATA);
    col_add_fstr(pinfo->cinfo, COL_INFO, "FTP data, %u bytes", tvb_reported_length(tvb));
    if (ch && ch->command)
        col_append_fstr(pinfo->cinfo, COL_INFO, " (%s%s%s)", ch->command, *ch->file ? " " : "", ch->file);

    if (tree) {
        proto_item *ti = proto_tree_add_item(tree, proto_ftplens_data, tvb, 0, -1, ENC_NA);
        proto_tree *dtree = proto_item_add_subtree(ti, ett_ftplens_data);
        proto_item_append_text(ti, " (%u bytes)", tvb_reported_length(tvb));
        if (ch)
            render_items(dtree, tvb, pinfo, &ch->items, FALSE);
    } else if (ch) {
        render_items(NULL, tvb, pinfo, &ch->items, FALSE); /* expert infos only */
    }

    /* Export objects: on the first pass, work out which bytes are new to the channel's file. */
    if (ch && !PINFO_FD_VISITED(pinfo)) {
        eo_frag_t *frag = wmem_new0(wmem_file_scope(), eo_frag_t);
        frag->chan = ch;
        frag->exportable = ch->export_name != NULL && !ch->tls; /* a protected file is exported decrypted */
        frag->len = len;
        if (!ch->eo_started) {
            ch->eo_started = TRUE;
            copy_address_wmem(wmem_file_scope(), &ch->eo_src, &pinfo->src);
            ch->eo_srcport = pinfo->srcport;
            ch->eo_nextseq = tcpinfo ? tcpinfo->nxtseq : 0;
        } else if (pinfo->srcport != ch->eo_srcport || !addresses_equal(&pinfo->src, &ch->eo_src)) {
            frag->len = 0; /* only the first sender's bytes make the file */
        } else if (tcpinfo) {
            gint32 seen = (gint32)(ch->eo_nextseq - tcpinfo->seq);
            if (seen < 0) {
                frag->hole = (guint32)-seen; /* the capture lost the bytes in between */
            } else if (seen > 0) {
                if ((guint32)seen >= len) {
                    frag->len = 0;
                } else {
                    frag->skip = (guint32)seen;
                    frag->len = len - (guint32)seen;
                }
            }
            if ((gint32)(tcpinfo->nxtseq - ch->eo_nextseq) > 0)
                ch->eo_nextseq = tcpinfo->nxtseq;
        }
        p_add_proto_data(wmem_file_scope(), pinfo, proto_ftplens_data, 0, frag);
    }
    queue_export(tvb, pinfo, 0);

    if (ch && ch->tls && tls_handle) {
        /* A protected channel: TLS inside; with the keys, TLS hands the clear bytes to ftplens_data_clear_handle. */
        tls_set_appdata_dissector(tls_handle, pinfo, ftplens_data_clear_handle);
        return call_dissector(tls_handle, tvb, pinfo, tree);
    }
    call_data_dissector(tvb, pinfo, tree);
    return len;
}

/* The decrypted payload of a protected data channel (called by TLS). TLS gives each byte once, in order. */
static int
dissect_ftplens_data_clear(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    guint len = tvb_captured_length(tvb);
    /* several TLS records may end in one frame: key their fragments 1, 2, ... */
    guint32 key = 1 + GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_ftplens_data, 0));
    p_add_proto_data(pinfo->pool, pinfo, proto_ftplens_data, 0, GUINT_TO_POINTER(key));
    chan_t *ch = data_channel(pinfo, key);

    if (ch && !PINFO_FD_VISITED(pinfo)) {
        eo_frag_t *frag = wmem_new0(wmem_file_scope(), eo_frag_t);
        frag->chan = ch;
        frag->exportable = ch->export_name != NULL;
        frag->len = len;
        p_add_proto_data(wmem_file_scope(), pinfo, proto_ftplens_data, key, frag);
    }
    queue_export(tvb, pinfo, key);
    call_data_dissector(tvb, pinfo, tree);
    return len;
}

/* ------------------------------------------------------------------------ export objects */

static tap_packet_status
ftplens_eo_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_, const void *data,
                  tap_flags_t flags _U_)
{
    export_object_list_t *object_list = (export_object_list_t *)tapdata;
    const eo_rec_t *r = (const eo_rec_t *)data;
    size_t cap = pref_export_max_mib ? (size_t)pref_export_max_mib * MIB : G_MAXSIZE;

    if (!r || !r->chan || !r->chan->export_name)
        return TAP_PACKET_DONT_REDRAW;
    if (!eo_rows)
        eo_rows = g_hash_table_new(g_direct_hash, g_direct_equal);

    guint row = GPOINTER_TO_UINT(g_hash_table_lookup(eo_rows, r->chan));
    if (row == 0 && r->len == 0)
        return TAP_PACKET_DONT_REDRAW; /* a rename before any byte: nothing to name yet */
    if (row != 0) {
        /* The core's name may have changed since the entry was made (the transfer ended unconfirmed);
         * a hole's ".partial" below stays. */
        export_object_entry_t *entry = object_list->get_entry(object_list->gui_data, (int)row - 1);
        if (entry && !g_str_has_prefix(entry->filename, r->chan->export_name)) {
            gboolean holed = g_str_has_suffix(entry->filename, ".partial");
            g_free(entry->filename);
            entry->filename = holed && !g_str_has_suffix(r->chan->export_name, ".partial")
                                  ? g_strdup_printf("%s.partial", r->chan->export_name)
                                  : g_strdup(r->chan->export_name);
        }
    }
    if (r->len == 0 && r->hole == 0)
        return TAP_PACKET_REDRAW; /* only the name changed */
    if (row != 0 && r->hole > 0) {
        /* Bytes after a hole stay at their offset: the hole is written as zeros, and the file is
         * named partial, since the zeros are not what was sent. */
        export_object_entry_t *entry = object_list->get_entry(object_list->gui_data, (int)row - 1);
        if (entry && entry->payload_len < cap) {
            size_t n = MIN((size_t)r->hole, cap - entry->payload_len);
            entry->payload_data = (guint8 *)g_realloc(entry->payload_data, entry->payload_len + n);
            memset(entry->payload_data + entry->payload_len, 0, n);
            entry->payload_len += n;
        }
        if (entry && !g_str_has_suffix(entry->filename, ".partial")) {
            gchar *name = g_strdup_printf("%s.partial", entry->filename);
            g_free(entry->filename);
            entry->filename = name;
        }
    }
    if (row == 0) {
        export_object_entry_t *entry = g_new0(export_object_entry_t, 1);
        size_t n = MIN((size_t)r->len, cap);
        entry->pkt_num = pinfo->num;
        /* The host column names the session's server (the side that sent the file for a download,
         * received it for an upload), so a reader need not work out which address is which. */
        const address *server = r->chan->server.type != AT_NONE ? &r->chan->server : &pinfo->src;
        entry->hostname = g_strdup_printf("%s (server)", address_to_str(pinfo->pool, server));
        /* The type the file's own first bytes suggest, as the CLI reports it. */
        const char *mime = ftplens_sniff_mime(r->bytes, MIN((size_t)r->len, cap));
        entry->content_type = g_strdup(mime ? mime : "application/octet-stream");
        entry->filename = g_strdup(r->chan->export_name);
        entry->payload_len = n;
        entry->payload_data = (guint8 *)g_malloc(n ? n : 1);
        memcpy(entry->payload_data, r->bytes, n);
        g_hash_table_insert(eo_rows, r->chan, GUINT_TO_POINTER(++eo_row_count));
        object_list->add_entry(object_list->gui_data, entry);
    } else {
        export_object_entry_t *entry = object_list->get_entry(object_list->gui_data, (int)row - 1);
        if (!entry || entry->payload_len >= cap)
            return TAP_PACKET_DONT_REDRAW;
        size_t n = MIN((size_t)r->len, cap - entry->payload_len);
        entry->payload_data = (guint8 *)g_realloc(entry->payload_data, entry->payload_len + n);
        memcpy(entry->payload_data + entry->payload_len, r->bytes, n);
        entry->payload_len += n;
    }
    return TAP_PACKET_REDRAW;
}

static void
ftplens_eo_reset(void)
{
    if (eo_rows) {
        g_hash_table_destroy(eo_rows);
        eo_rows = NULL;
    }
    eo_row_count = 0;
}

/* ------------------------------------------------------------------------ statistics */

static const gchar st_sessions[] = "FTP sessions";
static const gchar st_logins[] = "Logins by user and outcome";
static const gchar st_transfers[] = "Transfers by command and path";
static int st_node_logins = -1;
static int st_node_transfers = -1;

static void
ftplens_stats_init(stats_tree *st)
{
    stats_tree_create_node(st, st_sessions, 0, STAT_DT_INT, FALSE);
    st_node_logins = stats_tree_create_node(st, st_logins, 0, STAT_DT_INT, TRUE);
    st_node_transfers = stats_tree_create_node(st, st_transfers, 0, STAT_DT_INT, TRUE);
}

static tap_packet_status
ftplens_stats_packet(stats_tree *st, packet_info *pinfo _U_, epan_dissect_t *edt _U_, const void *p,
                     tap_flags_t flags _U_)
{
    const ftplens_tap_rec_t *r = (const ftplens_tap_rec_t *)p;
    if (!r)
        return TAP_PACKET_DONT_REDRAW;
    if (r->new_session)
        tick_stat_node(st, st_sessions, 0, FALSE);
    for (guint i = 0; r->logins && i < wmem_array_get_count(r->logins); i++) {
        const tap_login_t *l = (const tap_login_t *)wmem_array_index(r->logins, i);
        tick_stat_node(st, st_logins, 0, TRUE);
        int u = tick_stat_node(st, l->user, st_node_logins, TRUE);
        tick_stat_node(st, l->success ? "success" : "failure", u, FALSE);
    }
    for (guint i = 0; r->transfers && i < wmem_array_get_count(r->transfers); i++) {
        const tap_transfer_t *t = (const tap_transfer_t *)wmem_array_index(r->transfers, i);
        tick_stat_node(st, st_transfers, 0, TRUE);
        int c = tick_stat_node(st, t->command, st_node_transfers, TRUE);
        tick_stat_node(st, t->path, c, FALSE);
    }
    return TAP_PACKET_REDRAW;
}

/* ------------------------------------------------------------------------ file lifetime */

/* Whoever is enabled of ftplens and the built-in gets the control ports (ftplens.tcp.port, 21 by
 * default). Runs from the init routine: epan_new() calls the init routines at every file open and
 * every re-dissection, after --disable-protocol or Enabled Protocols has been applied; a disabled
 * protocol's handle in tcp.port would otherwise leave the port as bare TCP data. The built-in then
 * finds its own data connections, as it does without ftplens. A port that the user gave to another
 * dissector with Decode As (-d) is left alone: only ports holding ftplens, or the built-in that this
 * function put there, change hands. */
static void
give_ports_to_enabled_dissector(void)
{
    static GHashTable *given_back; /* ports this function handed to the built-in */
    dissector_table_t tcp_port = find_dissector_table("tcp.port");
    range_t *ports = prefs_get_range_value("ftplens", "tcp.port");
    gboolean enabled = proto_is_protocol_enabled(find_protocol_by_id(proto_ftplens));

    if (!ports || !tcp_port || !builtin_ftp_handle)
        return;
    if (!given_back)
        given_back = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint r = 0; r < ports->nranges; r++)
        for (guint32 port = ports->ranges[r].low; port <= ports->ranges[r].high; port++) {
            dissector_handle_t now = dissector_get_uint_handle(tcp_port, port);
            gboolean ours = now == ftplens_handle ||
                            (now == builtin_ftp_handle && g_hash_table_contains(given_back, GUINT_TO_POINTER(port)));
            if (!ours)
                continue;
            g_hash_table_remove(given_back, GUINT_TO_POINTER(port));
            if (enabled) {
                dissector_change_uint("tcp.port", port, ftplens_handle);
            } else {
                dissector_change_uint("tcp.port", port, builtin_ftp_handle);
                g_hash_table_add(given_back, GUINT_TO_POINTER(port));
            }
        }
}

static void
ftplens_init(void)
{
    give_ports_to_enabled_dissector();
    sessions = g_ptr_array_new();
    session_count = 0;
}

/* After the first pass (tshark -2 before its second pass, Wireshark once a file is read): tell every
 * session that its connection is over, so that transfers still open get their outcome ("unknown") on
 * their data packets and the session's last frame, and free the sessions: later passes only read what
 * the first one kept. */
static void
ftplens_finish_sessions(void)
{
    if (!sessions)
        return;
    for (guint i = 0; i < sessions->len; i++) {
        ctrl_conv_t *cs = (ctrl_conv_t *)g_ptr_array_index(sessions, i);
        size_t n_events = 0;
        if (!cs->sess)
            continue;
        if (ftplens_session_finish(cs->sess, cs->last_frame, cs->last_ts, &n_events) == FTPLENS_OK) {
            for (size_t e = 0; e < n_events; e++) {
                ftplens_event ev;
                if (ftplens_session_event(cs->sess, e, &ev) == FTPLENS_OK &&
                    ev.kind == FTPLENS_EVENT_TRANSFER_ENDED)
                    note_transfer(cs, NULL, NULL, &ev);
            }
            keep_items(cs, cs->last_frame, NULL);
        }
        ftplens_session_free(cs->sess);
        cs->sess = NULL;
        cs->finished = TRUE;
    }
    g_ptr_array_set_size(sessions, 0);
}

static void
ftplens_cleanup(void)
{
    if (sessions) {
        for (guint i = 0; i < sessions->len; i++) {
            ctrl_conv_t *cs = (ctrl_conv_t *)g_ptr_array_index(sessions, i);
            ftplens_session_free(cs->sess);
            cs->sess = NULL;
        }
        g_ptr_array_free(sessions, TRUE);
        sessions = NULL;
    }
}

/* ------------------------------------------------------------------------ registration */

static void
register_fields(void)
{
    hf_register_info *hf_ctrl, *hf_data;
    size_t n_ctrl = 0, n_data = 0;
    gint **etts;

    n_fields = ftplens_field_count();
    hf_ids = g_new(int, n_fields + 1);
    ett_fields = g_new(gint, n_fields + 1);
    field_infos = g_new0(ftplens_field_info, n_fields + 1);
    /* Wireshark keeps pointers into these arrays: they live as long as the process. */
    hf_ctrl = g_new0(hf_register_info, n_fields + 1);
    hf_data = g_new0(hf_register_info, n_fields + 1);
    etts = g_new(gint *, n_fields + 2);

    for (size_t i = 0; i < n_fields; i++) {
        ftplens_field_info fi;
        enum ftenum ft;
        int display = BASE_NONE;
        const void *strings = NULL;

        hf_ids[i] = -1;
        ett_fields[i] = -1;
        etts[i] = &ett_fields[i];
        if (ftplens_field_get(i, &fi) != FTPLENS_OK || !fi.abbrev || !fi.name) {
            fi.type = FTPLENS_FT_NONE;
            field_infos[i] = fi;
            continue;
        }
        field_infos[i] = fi;
        switch (fi.type) {
        case FTPLENS_FT_STRING:  ft = FT_STRING; break;
        case FTPLENS_FT_UINT:    ft = FT_UINT64; display = BASE_DEC; break;
        case FTPLENS_FT_BOOL:    ft = FT_BOOLEAN; break;
        case FTPLENS_FT_FRAME:
            ft = FT_FRAMENUM;
            if (fi.frame_role == FTPLENS_FRAME_REQUEST)
                strings = FRAMENUM_TYPE(FT_FRAMENUM_REQUEST);
            else if (fi.frame_role == FTPLENS_FRAME_RESPONSE)
                strings = FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE);
            break;
        case FTPLENS_FT_RELTIME: ft = FT_RELATIVE_TIME; break;
        case FTPLENS_FT_IPV4:    ft = FT_IPv4; break;
        case FTPLENS_FT_IPV6:    ft = FT_IPv6; break;
        default:                 ft = FT_NONE; break;
        }
        hf_register_info h = { &hf_ids[i], { fi.name, fi.abbrev, ft, display, strings, 0, fi.blurb, HFILL } };
        if (fi.data_protocol)
            hf_data[n_data++] = h;
        else
            hf_ctrl[n_ctrl++] = h;
    }
    etts[n_fields] = &ett_ftplens;
    etts[n_fields + 1] = &ett_ftplens_data;

    proto_register_field_array(proto_ftplens, hf_ctrl, (int)n_ctrl);
    proto_register_field_array(proto_ftplens_data, hf_data, (int)n_data);
    proto_register_subtree_array(etts, (int)n_fields + 2);
}

static void
register_experts(void)
{
    ei_register_info *ei_ctrl, *ei_data;
    size_t n_ctrl = 0, n_data = 0;

    n_experts = ftplens_expert_count();
    ei_ids = g_new(expert_field, n_experts + 1);
    ei_ctrl = g_new0(ei_register_info, n_experts + 1);
    ei_data = g_new0(ei_register_info, n_experts + 1);
    for (size_t i = 0; i < n_experts; i++) {
        ftplens_expert_info xi;
        expert_field init = EI_INIT;
        ei_ids[i] = init;
        if (ftplens_expert_get(i, &xi) != FTPLENS_OK || !xi.abbrev)
            continue;
        ei_register_info e = { &ei_ids[i], { xi.abbrev, expert_group(xi.group), expert_severity(xi.severity),
                                             xi.summary ? xi.summary : xi.abbrev, EXPFILL } };
        if (g_str_has_prefix(xi.abbrev, "ftplens-data."))
            ei_data[n_data++] = e;
        else
            ei_ctrl[n_ctrl++] = e;
    }
    expert_register_field_array(expert_register_protocol(proto_ftplens), ei_ctrl, (int)n_ctrl);
    expert_register_field_array(expert_register_protocol(proto_ftplens_data), ei_data, (int)n_data);
}

/* One preference per core limit, named as the core names it ("max_line", the key of -o flags),
 * titled in the core's words ("Longest line kept (bytes)"), defaulting to the core's default. The
 * strings are the core's static ones, so they live as long as the process, as Wireshark requires. */
static void
register_limit_preferences(module_t *prefs)
{
    n_limits = ftplens_limit_count();
    pref_limits = g_new0(guint, n_limits + 1);
    for (size_t i = 0; i < n_limits; i++) {
        ftplens_limit_info li;
        if (ftplens_limit_get(i, &li) != FTPLENS_OK || !li.name)
            continue;
        pref_limits[i] = li.default_value;
        const char *title = ftplens_limit_title(i);
        prefs_register_uint_preference(prefs, li.name, title ? title : li.name, li.help, 10,
                                       &pref_limits[i]);
    }
}

void
proto_register_ftplens(void)
{
    module_t *prefs;

    if (ftplens_abi_version() != FTPLENS_ABI_VERSION) {
        ws_warning("ftplens: core ABI %u, plugin built for %u; not registering",
                   ftplens_abi_version(), FTPLENS_ABI_VERSION);
        return;
    }

    proto_ftplens = proto_register_protocol("File Transfer Protocol (ftplens)", "FTPLENS", "ftplens");
    proto_ftplens_data = proto_register_protocol("FTP data channel (ftplens)", "FTPLENS-DATA", "ftplens-data");

    register_fields();
    register_experts();

    ftplens_handle = register_dissector("ftplens", dissect_ftplens, proto_ftplens);
    ftplens_data_handle = register_dissector("ftplens-data", dissect_ftplens_data, proto_ftplens_data);
    ftplens_data_clear_handle = register_dissector("ftplens-data.tls", dissect_ftplens_data_clear,
                                                   proto_ftplens_data);

    prefs = prefs_register_protocol(proto_ftplens, NULL);
    prefs_register_bool_preference(prefs, "heuristic", "Find FTP on any TCP port",
                                   "Let the ftplens core judge the first bytes of each side of TCP "
                                   "connections on other ports, and claim those that are FTP",
                                   &pref_heuristic);
    prefs_register_uint_preference(prefs, "export_max_mib", "Largest exported file (MiB)",
                                   "Export Objects keeps at most this many MiB of each transferred file "
                                   "(0: no limit)", 10, &pref_export_max_mib);
    prefs_register_bool_preference(prefs, "hide_passwords", "Hide passwords",
                                   "Show each password as stars in the tree, the Info column and the "
                                   "statistics, instead of in clear text (the packet bytes still hold it)",
                                   &pref_hide_passwords);
    register_limit_preferences(prefs);

    register_init_routine(ftplens_init);
    register_cleanup_routine(ftplens_cleanup);
    register_postseq_cleanup_routine(ftplens_finish_sessions);
    earlier_items = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash, g_direct_equal);

    ftplens_tap = register_tap("ftplens");
    /* tshark --export-objects takes the protocol's filter name: "ftplens". */
    ftplens_eo_tap = register_export_object(proto_ftplens, ftplens_eo_packet, ftplens_eo_reset);
    stats_tree_register_plugin("ftplens", "ftplens", "FTP (ftplens)/Sessions, logins and transfers", 0,
                               ftplens_stats_packet, ftplens_stats_init, NULL);
}

void
proto_reg_handoff_ftplens(void)
{
    if (proto_ftplens == -1)
        return;
    dissector_add_uint_range_with_preference("tcp.port", FTPLENS_TCP_PORTS, ftplens_handle);
    dissector_add_for_decode_as("tcp.port", ftplens_data_handle);
    heur_dissector_add("tcp", dissect_ftplens_heur, "FTP on any TCP port (ftplens)", "ftplens_tcp",
                       proto_ftplens, HEURISTIC_ENABLE);
    tls_handle = find_dissector("tls");
    builtin_ftp_handle = find_dissector("ftp");
}

void
plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_ftplens;
    plug.register_handoff = proto_reg_handoff_ftplens;
    proto_register_plugin(&plug);
}

#if WS_AT_LEAST(4, 2)
uint32_t
plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR;
}
#endif

/*
 * Editor modelines
 *
 * Local variables:
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 *
 * vi: set shiftwidth=4 expandtab:
 */
