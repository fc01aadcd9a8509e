/* test_desk_json.c: the desk's JSON: strings escaped whatever their bytes, a slot body read
 * strictly, an index read from a path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "desk_json.h"

/* s[0..len) as desk_json_str writes it (a static buffer). */
static const char *
enc(const char *s, size_t len)
{
    static char out[512];
    struct evbuffer *b = evbuffer_new();
    size_t n;

    assert_non_null(b);
    assert_int_equal(desk_json_str(b, s, len), 0);
    n = evbuffer_get_length(b);
    assert_true(n < sizeof out);
    evbuffer_remove(b, out, n);
    out[n] = '\0';
    evbuffer_free(b);
    return out;
}

/* Quotes, backslashes and controls are escaped; UTF-8 passes; a stray byte is \u00XX. */
static void
test_str(void **state)
{
    (void)state;
    assert_string_equal(enc("alice", 5), "\"alice\"");
    assert_string_equal(enc("", 0), "\"\"");
    assert_string_equal(enc("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    assert_string_equal(enc("a\nb\x01\x7f", 5), "\"a\\u000ab\\u0001\\u007f\"");
    assert_string_equal(enc("j\xc3\xb6rg \xe2\x82\xac", 9), "\"j\xc3\xb6rg \xe2\x82\xac\"");
    assert_string_equal(enc("x\x9b", 2), "\"x\\u009b\""); /* a continuation byte alone */
    assert_string_equal(enc("\xc3", 1), "\"\\u00c3\"");   /* cut short */
    assert_string_equal(enc("\xed\xa0\x80", 3), "\"\\u00ed\\u00a0\\u0080\""); /* a surrogate */
    assert_string_equal(enc("a\0b", 3), "\"a\\u0000b\"");                     /* only len counts */
    assert_string_equal(enc("</script>", 9), "\"</script>\""); /* served as JSON, not HTML */
}

/* Parse body into ds; 0 or -1, the message in err. */
static int
parse(const char *body, struct desk_slot *ds, char *err)
{
    return desk_json_parse_slot(body, strlen(body), ds, err, 128);
}

/* A good body, in any key order, with spaces and escapes. */
static void
test_parse_good(void **state)
{
    struct desk_slot ds;
    char err[128];

    (void)state;
    assert_int_equal(parse("{\"index\":7,\"day\":\"Mon\",\"time\":\"09am\",\"doctor\":\"doc1\","
                           "\"port\":41000}",
                           &ds, err),
                     0);
    assert_int_equal(ds.index, 7);
    assert_string_equal(ds.day, "Mon");
    assert_string_equal(ds.time, "09am");
    assert_string_equal(ds.doctor, "doc1");
    assert_int_equal(ds.port, 41000);
    assert_int_equal(parse(" { \"port\" : 1 , \"doctor\" : \"d\\u00f6c\" , \"time\":\"t\", "
                           "\"day\":\"\\u004don\", \"index\": 4294967295 }\n",
                           &ds, err),
                     0);
    assert_string_equal(ds.doctor, "d\xc3\xb6"
                                   "c");
    assert_string_equal(ds.day, "Mon");
    assert_int_equal(ds.index, 4294967295u);
}

/* Each wrong body is refused with a message naming what is wrong. */
static void
test_parse_bad(void **state)
{
    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"", "expected a JSON object"},
        {"[]", "expected a JSON object"},
        {"{}", "index is missing"},
        {"{\"index\":1,\"day\":\"Mon\",\"time\":\"9\",\"doctor\":\"d\"}", "port is missing"},
        {"{\"index\":0,\"day\":\"Mon\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}", "index must"},
        {"{\"index\":-1,\"day\":\"Mon\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}", "index must"},
        {"{\"index\":1.5,\"day\":\"Mon\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}",
         "expected ,"},
        {"{\"index\":01,\"day\":\"Mon\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}", "index must"},
        {"{\"index\":4294967296,\"day\":\"M\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}",
         "index must"},
        {"{\"index\":1,\"day\":\"Mon\",\"time\":\"9\",\"doctor\":\"d\",\"port\":65536}",
         "port must"},
        {"{\"index\":\"1\",\"day\":\"Mon\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}",
         "index must"},
        {"{\"index\":1,\"day\":\"M o\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}", "day must"},
        {"{\"index\":1,\"day\":\"\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}", "day must"},
        {"{\"index\":1,\"day\":\"M\\n\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}", "day must"},
        {"{\"index\":1,\"day\":\"0123456789abcdef\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}",
         "day must"},
        {"{\"index\":1,\"day\":\"M\\u0000\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}",
         "day must"},
        {"{\"index\":1,\"day\":\"\\ud800\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}",
         "day must"},
        {"{\"index\":1,\"day\":\"\xff\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}", "day must"},
        {"{\"index\":1,\"index\":2,\"day\":\"M\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1}",
         "index given twice"},
        {"{\"index\":1,\"room\":2}", "unknown key"},
        {"{\"index\":1,\"day\":\"M\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1} x",
         "bytes after the object"},
        {"{\"index\":1,\"day\":\"M\",\"time\":\"9\",\"doctor\":\"d\",\"port\":1",
         "expected , or }"},
        {"{\"index\":1,\"day\":\"M", "day must"},
        {"{\"index\" 1}", "expected \"key\": value"},
    };
    struct desk_slot ds;
    char err[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (parse(bad[i].body, &ds, err) != -1)
            fail_msg("accepted: %s", bad[i].body);
        if (strstr(err, bad[i].msg) == NULL)
            fail_msg("%s: said \"%s\", not \"%s\"", bad[i].body, err, bad[i].msg);
    }
}

/* An index at the end of a path: digits only, in range. */
static void
test_path_index(void **state)
{
    uint32_t i = 0;

    (void)state;
    assert_int_equal(desk_path_index("/api/slots/7", "/api/slots/", &i), 0);
    assert_int_equal(i, 7);
    assert_int_equal(desk_path_index("/api/bookings/4294967295", "/api/bookings/", &i), 0);
    assert_int_equal(i, 4294967295u);
    assert_int_equal(desk_path_index("/api/slots/", "/api/slots/", &i), -1);
    assert_int_equal(desk_path_index("/api/slots/0", "/api/slots/", &i), -1);
    assert_int_equal(desk_path_index("/api/slots/7/x", "/api/slots/", &i), -1);
    assert_int_equal(desk_path_index("/api/slots/-7", "/api/slots/", &i), -1);
    assert_int_equal(desk_path_index("/api/slots/4294967296", "/api/slots/", &i), -1);
    assert_int_equal(desk_path_index("/api/slot/7", "/api/slots/", &i), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_path_index),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
