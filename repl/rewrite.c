/* rewrite.c — keeps `local` declarations typed at the prompt alive across inputs.
** Each input is its own chunk, so a plain `local x = 1` would die with it (as in lua.c).
** Statements at block depth 0 that start with `local` become assignments, which land in
** the session environment (the chunk's _ENV, see eval.c).  This is a small lexer that
** counts block openers and closers, not a parser: on anything unexpected it leaves the
** text alone and lets the compiler report.  Lines are kept, so messages point at the input. */
#include <stdlib.h>
#include <string.h>
#include "repl.h"

enum { T_EOF, T_NAME, T_STRING, T_NUMBER, T_SYMBOL };

typedef struct {
    const char *s;
    size_t n, i;
} lexer;

typedef struct {
    int type;
    size_t start, end;   /* [start, end) in the source */
} token;

static int is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_name_char(int c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/* Length of the long bracket opening at i ("[[", "[==["), with *level set; 0 if none. */
static size_t long_open(const lexer *lx, size_t i, int *level)
{
    size_t j = i + 1;
    int lv = 0;
    if (i >= lx->n || lx->s[i] != '[') return 0;
    while (j < lx->n && lx->s[j] == '=') j++, lv++;
    if (j < lx->n && lx->s[j] == '[') {
        *level = lv;
        return j + 1 - i;
    }
    return 0;
}

/* Skips to just after the closing bracket of the given level (or to the end). */
static void long_skip(lexer *lx, int level)
{
    while (lx->i < lx->n) {
        if (lx->s[lx->i] == ']') {
            size_t j = lx->i + 1;
            int lv = 0;
            while (j < lx->n && lx->s[j] == '=') j++, lv++;
            if (lv == level && j < lx->n && lx->s[j] == ']') {
                lx->i = j + 1;
                return;
            }
        }
        lx->i++;
    }
}

static void skip_space_and_comments(lexer *lx)
{
    while (lx->i < lx->n) {
        char c = lx->s[lx->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            lx->i++;
        } else if (c == '-' && lx->i + 1 < lx->n && lx->s[lx->i + 1] == '-') {
            int level;
            size_t len = long_open(lx, lx->i + 2, &level);
            if (len) {
                lx->i += 2 + len;
                long_skip(lx, level);
            } else {
                while (lx->i < lx->n && lx->s[lx->i] != '\n') lx->i++;
            }
        } else {
            return;
        }
    }
}

static token next_token(lexer *lx)
{
    token t;
    skip_space_and_comments(lx);
    t.start = lx->i;
    t.type = T_EOF;
    if (lx->i >= lx->n) {
        t.end = lx->i;
        return t;
    }
    unsigned char c = (unsigned char)lx->s[lx->i];
    int level;
    size_t len;
    if (is_name_start(c)) {
        while (lx->i < lx->n && is_name_char((unsigned char)lx->s[lx->i])) lx->i++;
        t.type = T_NAME;
    } else if ((c >= '0' && c <= '9') || (c == '.' && lx->i + 1 < lx->n &&
                                          lx->s[lx->i + 1] >= '0' && lx->s[lx->i + 1] <= '9')) {
        while (lx->i < lx->n) {
            char d = lx->s[lx->i];
            if ((d == '+' || d == '-') && lx->s[lx->i - 1] && strchr("eEpP", lx->s[lx->i - 1]))
                lx->i++;
            else if (is_name_char((unsigned char)d) || d == '.') lx->i++;
            else break;
        }
        t.type = T_NUMBER;
    } else if (c == '"' || c == '\'') {
        lx->i++;
        while (lx->i < lx->n && lx->s[lx->i] != (char)c && lx->s[lx->i] != '\n') {
            if (lx->s[lx->i] == '\\' && lx->i + 1 < lx->n) lx->i++;   /* also \z and \<newline> */
            lx->i++;
        }
        if (lx->i < lx->n) lx->i++;
        t.type = T_STRING;
    } else if ((len = long_open(lx, lx->i, &level)) != 0) {
        lx->i += len;
        long_skip(lx, level);
        t.type = T_STRING;
    } else {
        static const char *two[] = { "...", "..", "==", "~=", "<=", ">=", "<<", ">>", "//", "::" };
        size_t k;
        t.type = T_SYMBOL;
        for (k = 0; k < sizeof two / sizeof two[0]; k++) {
            size_t m = strlen(two[k]);
            if (lx->i + m <= lx->n && memcmp(lx->s + lx->i, two[k], m) == 0) break;
        }
        lx->i += k < sizeof two / sizeof two[0] ? strlen(two[k]) : 1;
    }
    t.end = lx->i;
    return t;
}

static int tok_is(const lexer *lx, token t, const char *word)
{
    size_t m = strlen(word);
    return t.end - t.start == m && memcmp(lx->s + t.start, word, m) == 0;
}

static int is_keyword(const lexer *lx, token t)
{
    static const char *kw[] = { "and", "break", "do", "else", "elseif", "end", "false", "for",
                                "function", "goto", "if", "in", "local", "nil", "not", "or",
                                "repeat", "return", "then", "true", "until", "while" };
    if (t.type != T_NAME) return 0;
    for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
        if (tok_is(lx, t, kw[k])) return 1;
    return 0;
}

/* ---- the rewrite ---------------------------------------------------------------- */
typedef struct {
    char *buf;          /* copy of the source; blanked spans are overwritten with spaces */
    size_t *ins;        /* positions where " = nil" is inserted */
    size_t nins, capins;
    int nomem;
} edits;

static void blank(edits *e, size_t from, size_t to) { memset(e->buf + from, ' ', to - from); }

static void insert_nil(edits *e, size_t at)
{
    if (e->nins == e->capins) {
        size_t cap = e->capins ? 2 * e->capins : 8;
        size_t *p = realloc(e->ins, cap * sizeof *p);
        if (!p) {
            e->nomem = 1;
            return;
        }
        e->ins = p;
        e->capins = cap;
    }
    e->ins[e->nins++] = at;
}

/* Handles `local` (token loc) at depth 0.  Returns the first token that follows the name
** list (the caller still has to account for it, e.g. `function` opening a block). */
static token rewrite_local(lexer *lx, token loc, edits *e)
{
    token t = next_token(lx);
    size_t attrib_from[64], attrib_to[64];
    int nattrib = 0, has_close = 0;
    size_t last_end;
    if (tok_is(lx, t, "function")) {
        blank(e, loc.start, loc.end);
        return t;
    }
    for (;;) {
        if (t.type != T_NAME || is_keyword(lx, t)) return t;   /* malformed: leave it */
        last_end = t.end;
        t = next_token(lx);
        if (tok_is(lx, t, "<")) {
            token name = next_token(lx), close = next_token(lx);
            if (name.type != T_NAME || !tok_is(lx, close, ">")) return close;
            if (tok_is(lx, name, "close")) has_close = 1;
            if (nattrib < 64) {
                attrib_from[nattrib] = t.start;
                attrib_to[nattrib++] = close.end;
            } else {
                has_close = 1;   /* absurdly many attributes: keep the statement as it is */
            }
            last_end = close.end;
            t = next_token(lx);
        }
        if (!tok_is(lx, t, ",")) break;
        t = next_token(lx);
    }
    if (has_close) return t;   /* a to-be-closed variable must stay a real local */
    blank(e, loc.start, loc.end);
    for (int k = 0; k < nattrib; k++) blank(e, attrib_from[k], attrib_to[k]);
    if (!tok_is(lx, t, "=")) insert_nil(e, last_end);
    return t;
}

char *repl_rewrite_locals(const char *src, size_t len, size_t *outlen)
{
    lexer lx = { src, len, 0 };
    edits e = { NULL, NULL, 0, 0, 0 };
    int depth = 0;
    e.buf = malloc(len + 1);
    if (!e.buf) return NULL;
    memcpy(e.buf, src, len);
    e.buf[len] = '\0';
    token t = next_token(&lx);
    while (t.type != T_EOF) {
        if (t.type == T_NAME) {
            if (tok_is(&lx, t, "local") && depth == 0) {
                t = rewrite_local(&lx, t, &e);
                continue;
            }
            if (tok_is(&lx, t, "function") || tok_is(&lx, t, "do") || tok_is(&lx, t, "if") ||
                tok_is(&lx, t, "repeat"))
                depth++;
            else if ((tok_is(&lx, t, "end") || tok_is(&lx, t, "until")) && depth > 0)
                depth--;
        }
        t = next_token(&lx);
    }
    if (e.nomem) {
        free(e.buf);
        free(e.ins);
        return NULL;
    }
    static const char nil[] = " = nil";
    size_t n = len + e.nins * (sizeof nil - 1);
    char *out = malloc(n + 1);
    if (out) {
        size_t from = 0, o = 0;
        for (size_t k = 0; k < e.nins; k++) {   /* positions are increasing */
            memcpy(out + o, e.buf + from, e.ins[k] - from);
            o += e.ins[k] - from;
            memcpy(out + o, nil, sizeof nil - 1);
            o += sizeof nil - 1;
            from = e.ins[k];
        }
        memcpy(out + o, e.buf + from, len - from);
        out[n] = '\0';
        *outlen = n;
    }
    free(e.buf);
    free(e.ins);
    return out;
}
