/* packet-ftplens.c: Wireshark epan plugin for ftplens, FTP control and data connections.
 * Glue only: all FTP knowledge is in the Rust core (include/ftplens.h, "dissection"). On the first pass
 * this file hands every TCP segment that reaches it to one ftplens_dissector per capture file and does
 * what the core asks (route a predicted data connection here, hand a connection to TLS). On every pass
 * it draws what the core stored for the frame (ftplens_dissector_view), so every pass shows the same.
 * Copyright the ftplens authors. SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>
#include <math.h>
#include <wireshark.h>
#include <ws_version.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h> /* prefs_get_bool_value */
#include <epan/expert.h>
#include <epan/conversation.h>
#include <epan/proto_data.h>
#include <epan/tap.h>
#include <epan/export_object.h>
#include <epan/stats_tree.h>
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
 * 4.6), but it pulls in gcrypt and gnutls headers that a plain libwireshark-dev install may lack. */
WS_DLL_PUBLIC guint32 ssl_starttls_ack(dissector_handle_t tls_handle, packet_info *pinfo,
                                       dissector_handle_t app_handle);
WS_DLL_PUBLIC void tls_set_appdata_dissector(dissector_handle_t tls_handle, packet_info *pinfo,
                                             dissector_handle_t app_handle);
/* The Flow Graph (-z flow,ftplens). libwireshark exports its API, but libwireshark-dev 4.0 to 4.6 lack the header:
 * these are the layouts libwireshark's sequence_analysis_info_new and _create_sai_with_addresses use (items at 0x10;
 * gboolean flags in 4.0, bool from 4.4; libwireshark allocates the item, and 4.6 adds a member after these). */
#if __has_include(<epan/sequence_analysis.h>)
#include <epan/sequence_analysis.h>
#else
typedef struct {
    guint32 frame_number; address src_addr; guint16 port_src; address dst_addr; guint16 port_dst;
    gchar *frame_label, *time_str, *comment;
    guint16 conv_num; unsigned fg_color, bg_color; ws_bool has_color_filter, display;
    guint src_node, dst_node; guint16 line_style; int info_type; void *info_ptr;
} seq_analysis_item_t;
typedef struct { const char *name; ws_bool any_addr; int nconv; GQueue *items; } seq_analysis_info_t;
WS_DLL_PUBLIC void register_seq_analysis(const char *name, const char *ui_name, const int proto_id,
                                         const char *tap_listener, guint tap_flags, tap_packet_cb tap_func);
WS_DLL_PUBLIC seq_analysis_item_t *sequence_analysis_create_sai_with_addresses(packet_info *pinfo,
                                                                               seq_analysis_info_t *sainfo);
#endif
WS_DLL_PUBLIC_DEF const gchar plugin_version[] = PLUGIN_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);
void proto_register_ftplens(void);
void proto_reg_handoff_ftplens(void);
/* The Protocol column names what is on the wire, as the built-in does, so that users' colouring rules
 * and habits keep working; the filter names stay ftplens / ftplens-data (an "ftp" would clash). */
#define COLUMN_CONTROL "FTP"
#define COLUMN_DATA "FTP-DATA"
#define MAX_DEPTH 16
/* Keys of per-packet data (pinfo->pool, counted afresh on each pass). */
#define KEY_ITEMS_DRAWN 0 /* how many of the frame's items earlier calls for this frame drew */
#define KEY_TAPPED 1      /* the frame's statistics and ladder entry are queued */
static int proto_ftplens = -1, proto_ftplens_data = -1;
static gint ett_ftplens = -1, ett_ftplens_data = -1;
/* One Wireshark field, one subtree type and one expert field per registry entry. */
static size_t n_fields, n_experts;
static int *hf_ids, *ett_fields;
static ftplens_field_info *field_infos;
static expert_field *ei_ids;
static dissector_handle_t ftplens_handle, ftplens_data_handle;
static dissector_handle_t ftplens_data_clear_handle; /* the decrypted payload of a protected data channel */
static dissector_handle_t tls_handle, text_lines_handle;
static dissector_handle_t builtin_ftp_handle; /* given port 21 back while ftplens is disabled */
/* Frames with statistics ticks or a ladder entry (-z ftplens,tree, -z flow); export objects ("ftplens");
 * epan's expert infos (-z expert, the Expert Information dialog). */
static int ftplens_tap = -1, ftplens_eo_tap = -1, expert_tap = -1;
static ws_bool pref_heuristic = TRUE;
static guint pref_export_max_mib = 64;
static ws_bool pref_hide_passwords = FALSE, pref_export_listings = FALSE; /* both applied by the core */
static size_t n_limits;
static guint *pref_limits; /* one preference per core limit (ftplens_limit_get), by its index */
static ftplens_dissector *dissector; /* the open file's: made in init, finished after pass 1, freed in cleanup */
/* What the glue itself remembers of a TCP connection (conversation data under proto_ftplens). */
typedef struct {
    gboolean rejected;   /* the core judged it not FTP: stop offering it to the heuristic */
    guint32 next_seq[2]; /* per side, the sequence number after the last bytes fed: TLS's clear bytes follow */
    struct tcp_analysis *tcpd; /* a bare FIN reaches no subdissector: TCP's sequence analysis tells it (tell_fins) */
    ftplens_segment fin[2]; /* per side (TCP's flow1, flow2): the segment that tells its FIN */
    guint32 seen_next[2];   /* TCP's next sequence number of that side after the last segment fed */
    gboolean fin_told[2];
} conn_t;
static GPtrArray *watched; /* conn_t of FTP connections whose FINs are not all told yet (at most WATCHED) */
static double last_ts;     /* of the last segment fed */
#define WATCHED 4096 /* scanned before each control segment; past it, the oldest's FINs go untold (said once) */
/* Connections dropped from watched in this file (the first one is said); FTPLENS_TCP_HIDES_REORDERED when TCP's
 * tcp.no_subdissector_on_error keeps retransmitted and out-of-order segments from subdissectors (its default). */
static guint watched_dropped, tcp_flags;
/* What the export-objects tap gets from a data frame: its new bytes; in_order: decrypted by TLS, they follow
 * what the object holds, whatever the offset. */
typedef struct { const guint8 *bytes; guint32 len; gboolean in_order; } eo_rec_t;
static GHashTable *eo_rows; /* the core's object id -> row + 1 (reset by the export-object reset) */
static guint32 eo_row_count;

static void to_endpoint(const address *a, guint32 port, ftplens_endpoint *out)
{
    memset(out, 0, sizeof *out);
    if ((a->type == AT_IPv4 && a->len == 4) || (a->type == AT_IPv6 && a->len == 16)) {
        out->family = a->len == 4 ? FTPLENS_FAMILY_IPV4 : FTPLENS_FAMILY_IPV6;
        memcpy(out->addr, a->data, (size_t)a->len);
        out->port = (guint16)port;
    }
}

/* Points out at the endpoint's address (no copy: it lives as long as the endpoint). */
static gboolean to_address(const ftplens_endpoint *ep, address *out)
{
    gboolean v4 = ep->family == FTPLENS_FAMILY_IPV4, v6 = ep->family == FTPLENS_FAMILY_IPV6;
    set_address(out, v4 ? AT_IPv4 : v6 ? AT_IPv6 : AT_NONE, v4 ? 4 : v6 ? 16 : 0, v4 || v6 ? ep->addr : NULL);
    return v4 || v6;
}

/* A per-packet value of this pass (pinfo->pool, 0 at first): returns it and stores v instead. */
static guint packet_swap(packet_info *pinfo, guint32 key, guint v)
{
    guint old = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_ftplens, key));
    p_add_proto_data(pinfo->pool, pinfo, proto_ftplens, key, GUINT_TO_POINTER(v));
    return old;
}

/* Route a predicted data connection to ftplens-data, as the core's EXPECT action asks. */
static void expect_connection(const ftplens_action *a)
{
    const ftplens_endpoint *listeners[2] = { &a->listener, &a->alt_listener };
    address connector, listener;
    guint options = to_address(&a->connector, &connector) ? NO_PORT2 : NO_PORT2 | NO_ADDR2;
    for (int i = 0; i < 2; i++)
        if (to_address(listeners[i], &listener))
            conversation_set_dissector(conversation_new((guint32)a->frame, &listener, &connector, CONVERSATION_TCP,
                                                        listeners[i]->port, 0, options), ftplens_data_handle);
}

static void apply_actions(packet_info *pinfo, conversation_t *conv, guint32 stream)
{
    const ftplens_action *actions = NULL;
    size_t n = 0;
    if (ftplens_dissector_actions(dissector, &actions, &n) != FTPLENS_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (actions[i].kind == FTPLENS_ACTION_EXPECT) {
            expect_connection(&actions[i]);
        } else if (actions[i].kind == FTPLENS_ACTION_START_TLS && pinfo && conv && tls_handle &&
                   actions[i].stream == stream) {
            ssl_starttls_ack(tls_handle, pinfo, ftplens_handle);
            /* ssl_starttls_ack sets TLS from frame 0 on, but a connection the heuristic claimed has ftplens from
             * its claiming frame on, and the latest start wins: TLS would never see the records (port 2221). */
            conversation_set_dissector_from_frame_number(conv, (guint32)actions[i].frame + 1, tls_handle);
        }
    }
}

/* Tell the core the FINs sent before frame `before` that no subdissector saw: a side whose next sequence
 * number moved by exactly one past the last bytes fed, at a frame of its own, sent a FIN there. */
static void tell_fins(guint32 before)
{
    ftplens_claim claim;
    for (guint i = 0; watched && i < watched->len; i++) {
        conn_t *c = (conn_t *)g_ptr_array_index(watched, i);
        for (int s = 0; s < 2; s++) {
            tcp_analyze_seq_flow_info_t *sq = (s ? &c->tcpd->flow2 : &c->tcpd->flow1)->tcp_analyze_seq_info;
            if (c->fin_told[s] || !c->seen_next[s] || !sq || sq->nextseq != c->seen_next[s] + 1 ||
                sq->nextseqframe >= before || sq->nextseqframe <= c->fin[s].frame)
                continue;
            c->fin_told[s] = TRUE;
            c->fin[s].frame = sq->nextseqframe;
            c->fin[s].ts = last_ts;
            if (ftplens_dissector_segment(dissector, &c->fin[s], FTPLENS_OFFER_EXPECTED, &claim) == FTPLENS_OK)
                apply_actions(NULL, NULL, 0);
        }
        if (c->fin_told[0] && c->fin_told[1])
            g_ptr_array_remove_index(watched, i--);
    }
}

/* Give this segment to the core (first pass only) and do what it asks. data is what the caller passed: TCP's
 * tcpinfo, or when TLS hands back decrypted bytes 4.0's NULL, later TLS's own struct (found by layer names). */
static ftplens_claim feed_segment(tvbuff_t *tvb, packet_info *pinfo, void *data, ftplens_offer offer)
{
    conversation_t *conv = find_or_create_conversation(pinfo);
    struct tcp_analysis *tcpd = get_tcp_conversation_data(conv, pinfo);
    gboolean from_tls = data == NULL || (WS_AT_LEAST(4, 2) && proto_is_frame_protocol(pinfo->layers, "tls"));
    conn_t *c = (conn_t *)conversation_get_proto_data(conv, proto_ftplens);
    ftplens_claim claim = FTPLENS_CLAIM_NONE;
    ftplens_segment seg = { 0 };
    if (!dissector || !tcpd)
        return FTPLENS_CLAIM_NONE;
    if (!c) {
        c = wmem_new0(wmem_file_scope(), conn_t);
        conversation_add_proto_data(conv, proto_ftplens, c);
    }
    int side = tcpd->fwd == &tcpd->flow1 ? 0 : 1;
    if (offer != FTPLENS_OFFER_EXPECTED) tell_fins(pinfo->num); /* control lines need the FINs before them */
    seg.stream = tcpd->stream;
    to_endpoint(&pinfo->src, pinfo->srcport, &seg.src);
    to_endpoint(&pinfo->dst, pinfo->destport, &seg.dst);
    seg.frame = pinfo->num;
    seg.ts = nstime_to_sec(&pinfo->abs_ts);
    seg.len = tvb_captured_length(tvb);
    seg.data = tvb_get_ptr(tvb, 0, (gint)seg.len);
    if (from_tls) {
        /* Decrypted bytes come once each, in order, and follow the clear bytes of the same side. */
        seg.seq = c->next_seq[side];
        c->next_seq[side] += (guint32)seg.len;
    } else {
        const struct tcpinfo *ti = (const struct tcpinfo *)data;
        seg.seq = ti->seq;
        c->next_seq[side] = ti->nxtseq;
        c->seen_next[side] = tcpd->fwd->tcp_analyze_seq_info ? tcpd->fwd->tcp_analyze_seq_info->nextseq : 0;
        c->fin_told[side] |= (ti->flags & (TH_FIN | TH_RST)) != 0; /* told with this segment */
        c->fin_told[!side] |= (ti->flags & TH_RST) != 0;
        c->fin[side].frame = pinfo->num;
        /* Who opened the connection: TCP's flow remembers the SYN and the SYN-ACK (TCP_S_SAW_SYN 0x03 and
         * TCP_S_SAW_SYNACK 0x05 in packet-tcp.c, not exported). */
        guint8 seen = tcpd->fwd ? tcpd->fwd->static_flags : 0;
        seg.flags = ((seen & 0x03) == 0x03 ? FTPLENS_TCP_SYN : 0) |
                    ((seen & 0x05) == 0x05 ? FTPLENS_TCP_SYN_ACK : 0) | ((ti->flags & TH_FIN) ? FTPLENS_TCP_FIN : 0) |
                    ((ti->flags & TH_RST) ? FTPLENS_TCP_RST : 0) | tcp_flags;
    }
    last_ts = seg.ts;
    if (ftplens_dissector_segment(dissector, &seg, offer, &claim) != FTPLENS_OK)
        return FTPLENS_CLAIM_NONE;
    if ((claim == FTPLENS_CLAIM_CONTROL || claim == FTPLENS_CLAIM_DATA) && !c->tcpd) {
        c->tcpd = tcpd;
        c->fin[side] = (ftplens_segment){ .stream = seg.stream, .src = seg.src, .dst = seg.dst, .frame = pinfo->num,
                                          .flags = FTPLENS_TCP_FIN };
        c->fin[!side] = (ftplens_segment){ .stream = seg.stream, .src = seg.dst, .dst = seg.src,
                                           .flags = FTPLENS_TCP_FIN };
        tcp_analyze_seq_flow_info_t *rev = tcpd->rev ? tcpd->rev->tcp_analyze_seq_info : NULL;
        c->seen_next[!side] = rev ? rev->nextseq : 0; /* a side that sent no payload yet: its SYN's */
        if (watched->len >= WATCHED) {
            if (!watched_dropped++)
                ws_warning("over %d FTP connections open at once: the oldest's transfers may read no_fin", WATCHED);
            g_ptr_array_remove_index(watched, 0);
        }
        g_ptr_array_add(watched, c);
    }
    apply_actions(pinfo, conv, seg.stream);
    if (claim == FTPLENS_CLAIM_REJECTED)
        c->rejected = TRUE;
    if (offer == FTPLENS_OFFER_HEURISTIC && (claim == FTPLENS_CLAIM_CONTROL || claim == FTPLENS_CLAIM_DATA))
        conversation_set_dissector_from_frame_number(conv, pinfo->num, claim == FTPLENS_CLAIM_DATA
                                                                            ? ftplens_data_handle : ftplens_handle);
    return claim;
}

/* Add items[0..n) under root, nesting by depth. Without a tree (tshark's first pass, taps that need
 * none) only the expert infos are added: they still count (the packet's severity, the expert tap). */
static void draw_items(proto_tree *root, tvbuff_t *tvb, packet_info *pinfo, const ftplens_item *items, size_t n)
{
    proto_item *owner[MAX_DEPTH + 1] = { NULL };
    guint32 owner_field[MAX_DEPTH + 1] = { 0 };
    proto_tree *sub[MAX_DEPTH + 1] = { root };
    guint valid = 0; /* items may be added at depths 0..valid */
    guint captured = tvb_captured_length(tvb);
    for (size_t i = 0; i < n; i++) {
        const ftplens_item *it = &items[i];
        proto_item *pi = NULL;
        if (it->field >= n_fields || hf_ids[it->field] <= 0)
            continue; /* not a registry index, or an entry that could not be registered */
        if (root) {
            guint d = MIN(MIN(it->depth, MAX_DEPTH - 1), valid);
            if (d > 0 && sub[d] == NULL)
                sub[d] = proto_item_add_subtree(owner[d - 1], ett_fields[owner_field[d - 1]]);
            proto_tree *t = sub[d];
            int hf = hf_ids[it->field];
            gboolean own = it->length > 0 && (guint64)it->offset + it->length <= captured;
            gint off = own ? (gint)it->offset : 0, len = own ? (gint)it->length : 0;
            const char *str = it->string_value ? it->string_value : "";
            double secs = it->time_value < 0 ? 0 : it->time_value;
            nstime_t ts = { (time_t)floor(secs), (int)((secs - floor(secs)) * 1e9) };
            ws_in4_addr v4;
            memcpy(&v4, it->addr, 4);
            switch (field_infos[it->field].type) {
            case FTPLENS_FT_NONE:
                pi = *str ? proto_tree_add_none_format(t, hf, tvb, off, len, "%s", str)
                          : proto_tree_add_item(t, hf, tvb, off, len, ENC_NA);
                break;
            case FTPLENS_FT_STRING:  pi = proto_tree_add_string(t, hf, tvb, off, len, str); break;
            case FTPLENS_FT_UINT:    pi = proto_tree_add_uint64(t, hf, tvb, off, len, it->uint_value); break;
            case FTPLENS_FT_BOOL:    pi = proto_tree_add_boolean(t, hf, tvb, off, len, it->uint_value != 0); break;
            case FTPLENS_FT_FRAME:   pi = proto_tree_add_uint(t, hf, tvb, off, len, (guint32)it->uint_value); break;
            case FTPLENS_FT_RELTIME: pi = proto_tree_add_time(t, hf, tvb, off, len, &ts); break;
            case FTPLENS_FT_IPV4:    pi = proto_tree_add_ipv4(t, hf, tvb, off, len, v4); break;
            case FTPLENS_FT_IPV6: pi = proto_tree_add_ipv6(t, hf, tvb, off, len, (const ws_in6_addr *)it->addr); break;
            default:                 continue;
            }
            if (it->generated || len == 0)
                proto_item_set_generated(pi);
            owner[d] = pi;
            owner_field[d] = it->field;
            sub[d + 1] = NULL;
            valid = d + 1;
        }
        if (it->expert != FTPLENS_NO_EXPERT && it->expert < n_experts)
            expert_add_info_format(pinfo, pi, &ei_ids[it->expert], "%s", it->expert_message ? it->expert_message : "");
    }
}

/* Export objects get these bytes of the frame (the tap reads from the view where they go). */
static void queue_export(tvbuff_t *tvb, packet_info *pinfo, guint32 skip, guint32 len, gboolean in_order)
{
    eo_rec_t *r = wmem_new0(pinfo->pool, eo_rec_t);
    r->len = len;
    r->bytes = len ? (const guint8 *)tvb_memdup(pinfo->pool, tvb, skip, len) : NULL;
    r->in_order = in_order;
    tap_queue_packet(ftplens_eo_tap, pinfo, r);
}

/* A data connection's payload: TLS records of a protected channel (with the keys, TLS hands the clear bytes to
 * ftplens_data_clear_handle), lines of text (a listing, TYPE A) or bytes. */
static void call_payload(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, gboolean text, gboolean tls)
{
    if (tls && tls_handle) {
        tls_set_appdata_dissector(tls_handle, pinfo, ftplens_data_clear_handle);
        call_dissector(tls_handle, tvb, pinfo, tree);
    } else if (text && text_lines_handle)
        call_dissector(text_lines_handle, tvb, pinfo, tree);
    else
        call_data_dissector(tvb, pinfo, tree);
}

/* Draw this frame's view; FALSE when the core has nothing for it. A control frame can come in pieces (TLS
 * records): each call draws only the items the earlier calls did not, and the taps are queued once. */
static gboolean draw_view(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree)
{
    ftplens_view v;
    if (!dissector || ftplens_dissector_view(dissector, pinfo->num, &v) != FTPLENS_OK ||
        v.kind == FTPLENS_VIEW_NONE)
        return FALSE;
    gboolean data = v.kind == FTPLENS_VIEW_DATA;
    col_set_str(pinfo->cinfo, COL_PROTOCOL, data ? COLUMN_DATA : COLUMN_CONTROL);
    if (*v.info) /* a frame that completes no line (a long line's middle) leaves TCP's Info */
        col_add_str(pinfo->cinfo, COL_INFO, v.info);
    proto_item *ti = proto_tree_add_item(tree, data ? proto_ftplens_data : proto_ftplens, tvb, 0, -1, ENC_NA);
    if (*v.title)
        proto_item_append_text(ti, "%s", v.title);
    /* Only control frames come in pieces; the per-packet counters would cost every data frame two lookups. */
    guint drawn = data ? 0 : packet_swap(pinfo, KEY_ITEMS_DRAWN, (guint)v.n_items);
    if (drawn < v.n_items)
        draw_items(proto_item_add_subtree(ti, data ? ett_ftplens_data : ett_ftplens), tvb, pinfo, v.items + drawn,
                   v.n_items - drawn);
    if ((v.n_stats || v.flow || (!data && v.export_piece.object)) && (data || !packet_swap(pinfo, KEY_TAPPED, 1))) {
        /* The taps read the view again once the frame is done: it then holds every call's share. */
        if ((v.n_stats || v.flow) && have_tap_listener(ftplens_tap))
            tap_queue_packet(ftplens_tap, pinfo, NULL);
        if (!data && v.export_piece.object && have_tap_listener(ftplens_eo_tap))
            queue_export(tvb, pinfo, 0, 0, FALSE); /* a control frame that renames an object */
    }
    if (data && v.export_piece.object && !v.export_piece.tls && have_tap_listener(ftplens_eo_tap) &&
        (guint64)v.export_piece.skip + v.export_piece.len <= tvb_captured_length(tvb))
        queue_export(tvb, pinfo, v.export_piece.skip, v.export_piece.len, FALSE);
    /* The payload, after the items; a file's bytes stay under ftplens-data, as with the built-in. */
    if (data && (v.tls || v.text))
        call_payload(tvb, pinfo, tree, v.text, v.tls);
    return TRUE;
}

/* A connection routed to ftplens: on the control port (tcp.port, 21 by default) or claimed as control, with
 * TLS's decrypted control lines; or predicted as data (and Decode As). */
static int dissect_routed(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data, ftplens_offer offer)
{
    gboolean ctrl = offer == FTPLENS_OFFER_PORT;
    bool tls;
    if (!PINFO_FD_VISITED(pinfo))
        feed_segment(tvb, pinfo, data, offer);
    /* No tree, no columns, no tap (tshark -2's first pass, the GUI's first read): the view would be made
     * for nobody. Only TLS must see a protected data channel's records, to decrypt the next. */
    if (!tree && !pinfo->cinfo && !have_tap_listener(ftplens_tap) && !have_tap_listener(ftplens_eo_tap) &&
        !have_tap_listener(expert_tap)) {
        if (ftplens_dissector_is_tls_data(dissector, pinfo->num, &tls) == FTPLENS_OK && tls)
            call_payload(tvb, pinfo, tree, FALSE, TRUE);
        return tvb_captured_length(tvb);
    }
    if (!draw_view(tvb, pinfo, tree)) { /* nothing to show yet (the start of a line): still its bytes */
        col_set_str(pinfo->cinfo, COL_PROTOCOL, ctrl ? COLUMN_CONTROL : COLUMN_DATA);
        proto_tree_add_item(tree, ctrl ? proto_ftplens : proto_ftplens_data, tvb, 0, -1, ENC_NA);
        if (!ctrl)
            call_data_dissector(tvb, pinfo, tree);
    }
    return tvb_captured_length(tvb);
}

static int dissect_ftplens(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{ return dissect_routed(tvb, pinfo, tree, data, FTPLENS_OFFER_PORT); }
static int dissect_ftplens_data(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{ return dissect_routed(tvb, pinfo, tree, data, FTPLENS_OFFER_EXPECTED); }

/* Other TCP connections: the core judges the first payload of each side and claims FTP. */
static ws_bool dissect_ftplens_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    if (!pref_heuristic)
        return FALSE;
    if (!PINFO_FD_VISITED(pinfo)) {
        conn_t *c = (conn_t *)conversation_get_proto_data(find_or_create_conversation(pinfo), proto_ftplens);
        ftplens_claim claim = c && c->rejected ? FTPLENS_CLAIM_REJECTED
                                               : feed_segment(tvb, pinfo, data, FTPLENS_OFFER_HEURISTIC);
        if (claim != FTPLENS_CLAIM_CONTROL && claim != FTPLENS_CLAIM_DATA)
            return FALSE;
    }
    return draw_view(tvb, pinfo, tree);
}

/* The decrypted payload of a protected data channel (from TLS): each byte once, in order, for export. */
static int dissect_ftplens_data_clear(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    ftplens_view v = { 0 };
    if (dissector && ftplens_dissector_view(dissector, pinfo->num, &v) == FTPLENS_OK && v.export_piece.object &&
        have_tap_listener(ftplens_eo_tap))
        queue_export(tvb, pinfo, 0, tvb_captured_length(tvb), TRUE);
    call_payload(tvb, pinfo, tree, v.text, FALSE);
    return tvb_captured_length(tvb);
}

static tap_packet_status ftplens_eo_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_,
                                           const void *data, tap_flags_t flags _U_)
{
    export_object_list_t *list = (export_object_list_t *)tapdata;
    const eo_rec_t *r = (const eo_rec_t *)data;
    size_t cap = pref_export_max_mib ? (size_t)pref_export_max_mib << 20 /* MiB */ : G_MAXSIZE;
    ftplens_view v;
    if (!r || !dissector || ftplens_dissector_view(dissector, pinfo->num, &v) != FTPLENS_OK ||
        !v.export_piece.object)
        return TAP_PACKET_DONT_REDRAW;
    const ftplens_export *x = &v.export_piece;
    if (!eo_rows)
        eo_rows = g_hash_table_new(g_direct_hash, g_direct_equal);
    guint row = GPOINTER_TO_UINT(g_hash_table_lookup(eo_rows, GSIZE_TO_POINTER(x->object)));
    export_object_entry_t *e = row ? list->get_entry(list->gui_data, (int)row - 1) : NULL;
    if (!e && r->len == 0)
        return TAP_PACKET_DONT_REDRAW; /* a new name before any byte: nothing to name yet */
    if (!e) {
        e = g_new0(export_object_entry_t, 1);
        e->pkt_num = pinfo->num;
        e->hostname = g_strdup_printf("%s (server)", x->server);
    }
    if (!e->filename || strcmp(e->filename, x->filename) != 0) { /* new, or renamed: unconfirmed, bytes lacking */
        g_free(e->filename);
        e->filename = g_strdup(x->filename);
    }
    /* The bytes go where the core says (a capture hole stays as zeros), or after what is there. */
    size_t at = r->in_order ? (size_t)e->payload_len : (size_t)x->offset;
    size_t end = r->len ? MIN(at + r->len, cap) : 0; /* a rename (len 0) writes nothing */
    if (end > (size_t)e->payload_len) {
        e->payload_data = (guint8 *)g_realloc(e->payload_data, end);
        memset(e->payload_data + e->payload_len, 0, end - (size_t)e->payload_len);
        e->payload_len = end;
    }
    if (at < end)
        memcpy(e->payload_data + at, r->bytes, end - at);
    if (!row) {
        /* The type the file's own first bytes suggest, as the CLI reports it. */
        const char *mime = ftplens_sniff_mime(e->payload_data, (size_t)e->payload_len);
        e->content_type = g_strdup(mime ? mime : "application/octet-stream");
        g_hash_table_insert(eo_rows, GSIZE_TO_POINTER(x->object), GUINT_TO_POINTER(++eo_row_count));
        list->add_entry(list->gui_data, e);
    }
    return TAP_PACKET_REDRAW;
}

static void ftplens_eo_reset(void) { g_clear_pointer(&eo_rows, g_hash_table_destroy); eo_row_count = 0; }

static void ftplens_stats_init(stats_tree *st _U_) {} /* the core names every node: each appears at its first tick */

static tap_packet_status ftplens_stats_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt _U_,
                                              const void *p _U_, tap_flags_t flags _U_)
{
    ftplens_view v;
    if (!dissector || ftplens_dissector_view(dissector, pinfo->num, &v) != FTPLENS_OK || !v.n_stats)
        return TAP_PACKET_DONT_REDRAW;
    for (size_t i = 0; i < v.n_stats; i++) {
        int parent = 0;
        for (int level = 0; level < 3 && v.stats[i].node[level]; level++)
            parent = tick_stat_node(st, v.stats[i].node[level], parent, TRUE);
    }
    return TAP_PACKET_REDRAW;
}

/* One Flow Graph arrow per frame with a ladder text: commands, replies, a data connection's first frame. */
static tap_packet_status ftplens_flow_packet(void *tapdata, packet_info *pinfo, epan_dissect_t *edt _U_,
                                             const void *p _U_, tap_flags_t flags _U_)
{
    seq_analysis_info_t *sainfo = (seq_analysis_info_t *)tapdata;
    seq_analysis_item_t *sai;
    ftplens_view v;
    if (!dissector || ftplens_dissector_view(dissector, pinfo->num, &v) != FTPLENS_OK || !v.flow ||
        !(sai = sequence_analysis_create_sai_with_addresses(pinfo, sainfo)))
        return TAP_PACKET_DONT_REDRAW;
    sai->frame_number = pinfo->num;
    sai->port_src = (guint16)pinfo->srcport;
    sai->port_dst = (guint16)pinfo->destport;
    sai->frame_label = g_strdup(v.flow);
    sai->comment = g_strdup_printf("%s: %s", v.kind == FTPLENS_VIEW_DATA ? COLUMN_DATA : COLUMN_CONTROL, v.info);
    sai->line_style = 1;
    sai->display = TRUE;
    g_queue_push_tail(sainfo->items, sai);
    return TAP_PACKET_REDRAW;
}

/* Whoever is enabled of ftplens and the built-in gets the control ports (ftplens.tcp.port, 21 by default), from the
 * init routine (every file open, and re-dissection once --disable-protocol or Enabled Protocols applies): a disabled
 * handle would leave the port as bare TCP. Then the built-in finds its data connections; Decode As (-d) stays. */
static void give_ports_to_enabled_dissector(void)
{
    static GHashTable *given_back; /* ports this function handed to the built-in */
    dissector_table_t tcp_port = find_dissector_table("tcp.port");
    range_t *ports = prefs_get_range_value("ftplens", "tcp.port");
    gboolean enabled = proto_is_protocol_enabled(find_protocol_by_id(proto_ftplens));
    if (!ports || !tcp_port || !builtin_ftp_handle)
        return;
    given_back = given_back ? given_back : g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint r = 0; r < ports->nranges; r++)
        for (guint32 port = ports->ranges[r].low; port <= ports->ranges[r].high; port++) {
            dissector_handle_t now = dissector_get_uint_handle(tcp_port, port);
            if (now != ftplens_handle &&
                (now != builtin_ftp_handle || !g_hash_table_contains(given_back, GUINT_TO_POINTER(port))))
                continue;
            g_hash_table_remove(given_back, GUINT_TO_POINTER(port));
            dissector_change_uint("tcp.port", port, enabled ? ftplens_handle : builtin_ftp_handle);
            if (!enabled)
                g_hash_table_add(given_back, GUINT_TO_POINTER(port));
        }
}

static void ftplens_init(void)
{
    ftplens_dissector_config cfg = { 0 };
    for (size_t i = 0; i < n_limits; i++)
        ftplens_limits_set(&cfg.limits, i, pref_limits[i]);
    cfg.hide_passwords = pref_hide_passwords;
    cfg.export_listings = pref_export_listings;
    give_ports_to_enabled_dissector();
    ftplens_dissector_free(dissector);
    dissector = ftplens_dissector_new(&cfg);
    watched = watched ? watched : g_ptr_array_new();
    g_ptr_array_set_size(watched, 0);
    watched_dropped = 0;
    pref_t *no_sub = prefs_find_preference(prefs_find_module("tcp"), "no_subdissector_on_error");
    tcp_flags = no_sub && prefs_get_bool_value(no_sub, pref_current) ? FTPLENS_TCP_HIDES_REORDERED : 0;
}

/* After the first pass: the core ends every connection, so open transfers get their outcome. */
static void ftplens_finish(void)
{
    if (dissector)
        tell_fins(G_MAXUINT32);
    if (dissector && ftplens_dissector_finish(dissector) == FTPLENS_OK)
        apply_actions(NULL, NULL, 0);
}

static void ftplens_cleanup(void) { g_clear_pointer(&dissector, ftplens_dissector_free); }

static void register_fields(void)
{
    static const enum ftenum types[] = { FT_NONE, FT_STRING, FT_UINT64, FT_BOOLEAN, FT_FRAMENUM, FT_RELATIVE_TIME,
                                         FT_IPv4, FT_IPv6 };
    /* Wireshark keeps pointers into these arrays: they live as long as the process. [1]: ftplens-data's. */
    n_fields = ftplens_field_count();
    hf_ids = g_new(int, n_fields + 1);
    ett_fields = g_new(gint, n_fields + 1);
    field_infos = g_new0(ftplens_field_info, n_fields + 1);
    hf_register_info *hf[2] = { g_new0(hf_register_info, n_fields + 1), g_new0(hf_register_info, n_fields + 1) };
    size_t n[2] = { 0, 0 };
    gint **etts = g_new(gint *, n_fields + 2);
    for (size_t i = 0; i < n_fields; i++) {
        ftplens_field_info *fi = &field_infos[i];
        hf_ids[i] = ett_fields[i] = -1; /* an entry that cannot be registered keeps -1: draw_items skips it */
        etts[i] = &ett_fields[i];
        if (ftplens_field_get(i, fi) != FTPLENS_OK || !fi->abbrev || !fi->name || fi->type >= G_N_ELEMENTS(types))
            continue;
        const void *strings = fi->type != FTPLENS_FT_FRAME ? NULL
                              : fi->frame_role == FTPLENS_FRAME_REQUEST  ? FRAMENUM_TYPE(FT_FRAMENUM_REQUEST)
                              : fi->frame_role == FTPLENS_FRAME_RESPONSE ? FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE) : NULL;
        hf_register_info h = { &hf_ids[i], { fi->name, fi->abbrev, types[fi->type],
                                             fi->type == FTPLENS_FT_UINT ? BASE_DEC : BASE_NONE, strings, 0,
                                             fi->blurb, HFILL } };
        hf[fi->data_protocol][n[fi->data_protocol]++] = h;
    }
    etts[n_fields] = &ett_ftplens;
    etts[n_fields + 1] = &ett_ftplens_data;
    proto_register_field_array(proto_ftplens, hf[0], (int)n[0]);
    proto_register_field_array(proto_ftplens_data, hf[1], (int)n[1]);
    proto_register_subtree_array(etts, (int)n_fields + 2);
}

static void register_experts(void)
{
    static const int groups[] = { PI_PROTOCOL, PI_SECURITY, PI_PROTOCOL, PI_MALFORMED, PI_SEQUENCE, PI_RESPONSE_CODE };
    static const int severities[] = { PI_NOTE, PI_CHAT, PI_NOTE, PI_WARN, PI_ERROR }; /* by FTPLENS_*_ (1-based) */
    n_experts = ftplens_expert_count();
    ei_ids = g_new(expert_field, n_experts + 1);
    ei_register_info *ei[2] = { g_new0(ei_register_info, n_experts + 1), g_new0(ei_register_info, n_experts + 1) };
    size_t n[2] = { 0, 0 };
    for (size_t i = 0; i < n_experts; i++) {
        ftplens_expert_info xi;
        ei_ids[i] = (expert_field)EI_INIT;
        if (ftplens_expert_get(i, &xi) != FTPLENS_OK || !xi.abbrev)
            continue;
        int group = xi.group < G_N_ELEMENTS(groups) ? groups[xi.group] : PI_PROTOCOL;
        int severity = xi.severity < G_N_ELEMENTS(severities) ? severities[xi.severity] : PI_NOTE;
        ei_register_info e = { &ei_ids[i], { xi.abbrev, group, severity, xi.summary ? xi.summary : xi.abbrev,
                                             EXPFILL } };
        int data = g_str_has_prefix(xi.abbrev, "ftplens-data.");
        ei[data][n[data]++] = e;
    }
    expert_register_field_array(expert_register_protocol(proto_ftplens), ei[0], (int)n[0]);
    expert_register_field_array(expert_register_protocol(proto_ftplens_data), ei[1], (int)n[1]);
}

void proto_register_ftplens(void)
{
    if (ftplens_abi_version() != FTPLENS_ABI_VERSION) {
        ws_warning("ftplens: core ABI %u, plugin built for %u; not registering", ftplens_abi_version(),
                   FTPLENS_ABI_VERSION);
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
    module_t *prefs = prefs_register_protocol(proto_ftplens, NULL);
    prefs_register_bool_preference(prefs, "heuristic", "Find FTP on any TCP port", "Let the ftplens core judge the "
                                   "first bytes of each side of TCP connections on other ports, and claim those that "
                                   "are FTP", &pref_heuristic);
    prefs_register_uint_preference(prefs, "export_max_mib", "Largest exported file (MiB)", "Export Objects keeps "
                                   "at most this many MiB of each transferred file (0: no limit)", 10,
                                   &pref_export_max_mib);
    prefs_register_bool_preference(prefs, "hide_passwords", "Hide passwords", "Show each password as stars in the "
                                   "tree, the Info column and the statistics, instead of in clear text (the packet "
                                   "bytes still hold it)", &pref_hide_passwords);
    prefs_register_bool_preference(prefs, "export_listings", "Export directory listings", "Export Objects also saves "
                                   "each directory listing, as <directory>.listing, besides the transferred files",
                                   &pref_export_listings);
    /* One preference per core limit, named as the core names it ("max_line", the -o key), titled in its
     * words ("Longest line kept (bytes)"), with its default; the strings are static, as Wireshark requires. */
    n_limits = ftplens_limit_count();
    pref_limits = g_new0(guint, n_limits + 1);
    for (size_t i = 0; i < n_limits; i++) {
        ftplens_limit_info li;
        const char *title = ftplens_limit_title(i);
        if (ftplens_limit_get(i, &li) != FTPLENS_OK || !li.name)
            continue;
        pref_limits[i] = li.default_value;
        prefs_register_uint_preference(prefs, li.name, title ? title : li.name, li.help, 10, &pref_limits[i]);
    }
    register_init_routine(ftplens_init);
    register_cleanup_routine(ftplens_cleanup);
    register_postseq_cleanup_routine(ftplens_finish);
    ftplens_tap = register_tap("ftplens");
    /* tshark --export-objects takes the protocol's filter name: "ftplens". */
    ftplens_eo_tap = register_export_object(proto_ftplens, ftplens_eo_packet, ftplens_eo_reset);
    stats_tree_register_plugin("ftplens", "ftplens", "FTP (ftplens)/Sessions, logins and transfers", 0,
                               ftplens_stats_packet, ftplens_stats_init, NULL);
    register_seq_analysis("ftplens", "FTP (ftplens)", proto_ftplens, "ftplens", TL_REQUIRES_NOTHING,
                          ftplens_flow_packet);
}

void proto_reg_handoff_ftplens(void)
{
    if (proto_ftplens == -1)
        return;
    dissector_add_uint_range_with_preference("tcp.port", "21", ftplens_handle);
    dissector_add_for_decode_as("tcp.port", ftplens_data_handle);
    heur_dissector_add("tcp", dissect_ftplens_heur, "FTP on any TCP port (ftplens)", "ftplens_tcp", proto_ftplens,
                       HEURISTIC_ENABLE);
    tls_handle = find_dissector("tls");
    expert_tap = find_tap_id("expert");
    text_lines_handle = find_dissector("data-text-lines");
    builtin_ftp_handle = find_dissector("ftp");
}

void plugin_register(void)
{
    static proto_plugin plug = { proto_register_ftplens, proto_reg_handoff_ftplens };
    proto_register_plugin(&plug);
}

#if WS_AT_LEAST(4, 2)
WS_DLL_PUBLIC_DEF uint32_t plugin_describe(void) { return WS_PLUGIN_DESC_DISSECTOR; }
#endif
