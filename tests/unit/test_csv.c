/* test_csv.c - the streaming CSV reader */
#include "csv.h"
#include "util.h"
#include "t.h"

#include <stdlib.h>

static FILE *input(const char *s, size_t n)
{
    FILE *f = tmpfile();
    if (!f) return NULL;
    fwrite(s, 1, n, f);
    rewind(f);
    return f;
}

/* A reader over a string literal (which may hold NULs, hence sizeof). */
#define OPEN(lit) \
    FILE *fp = input(lit, sizeof(lit) - 1); \
    CHECK(fp != NULL); \
    if (!fp) return; \
    csv_t *c = csv_new(fp); \
    char **f = NULL; \
    size_t n = 0; \
    char err[ERRLEN] = ""

#define CLOSE() do { csv_free(c); fclose(fp); } while (0)

static void test_basic(void)
{
    OPEN("id,name,email\n1,Ann,ann@example.com\n2,Bob,\n");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(f[0], "id");
    CHECK_EQ_STR(f[1], "name");
    CHECK_EQ_STR(f[2], "email");
    CHECK_EQ_INT(csv_line(c), 1);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(f[1], "Ann");
    CHECK_EQ_STR(f[2], "ann@example.com");
    CHECK_EQ_INT(csv_line(c), 2);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(f[0], "2");
    CHECK_EQ_STR(f[2], "");
    CHECK_EQ_INT(csv_line(c), 3);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 0); /* stays at end */
    CHECK_EQ_INT(csv_offset(c), 43);
    CHECK_EQ_STR(err, "");
    CLOSE();
}

static void test_quoting(void)
{
    OPEN("a,\"b,c\",d\n"
         "\"say \"\"hi\"\"\",\"\"\n"
         "\"two\nlines\",x\n"
         "next,row\n"
         "ab\"c,\"\"\"\"\n"
         "\"\",,\n");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(f[0], "a");
    CHECK_EQ_STR(f[1], "b,c");
    CHECK_EQ_STR(f[2], "d");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0], "say \"hi\"");
    CHECK_EQ_STR(f[1], "");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0], "two\nlines");
    CHECK_EQ_STR(f[1], "x");
    CHECK_EQ_INT(csv_line(c), 3);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_STR(f[0], "next");
    CHECK_EQ_INT(csv_line(c), 5); /* the embedded newline counted */
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0], "ab\"c"); /* a quote inside an unquoted field is literal */
    CHECK_EQ_STR(f[1], "\"");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(f[0], "");
    CHECK_EQ_STR(f[1], "");
    CHECK_EQ_STR(f[2], "");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
    CLOSE();
}

static void test_crlf_bom_blank(void)
{
    OPEN("\xEF\xBB\xBF" "id,name\r\n"
         "\r\n"
         "1,\"Ann\"\r\n"
         "\n\n"
         "2,\"multi\r\nline\"\r\n"
         "3,a\rb\r\n"
         "\r\n");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0], "id"); /* no BOM in the first header */
    CHECK_EQ_STR(f[1], "name"); /* no CR */
    CHECK_EQ_INT(csv_line(c), 1);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_STR(f[0], "1");
    CHECK_EQ_STR(f[1], "Ann");
    CHECK_EQ_INT(csv_line(c), 3);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_STR(f[0], "2");
    CHECK_EQ_STR(f[1], "multi\r\nline"); /* quoted CRLF is data */
    CHECK_EQ_INT(csv_line(c), 6);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_STR(f[0], "3");
    CHECK_EQ_STR(f[1], "a\rb"); /* a lone CR is data */
    CHECK_EQ_INT(csv_line(c), 8);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
    CLOSE();
}

static void test_bom_only_and_empty(void)
{
    {
        OPEN("");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CHECK_EQ_INT(n, 0);
        CLOSE();
    }
    {
        OPEN("\xEF\xBB\xBF");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CLOSE();
    }
    {
        OPEN("\n\r\n\n");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CLOSE();
    }
    {
        /* a BOM is only special at the very start */
        OPEN("a\n\xEF\xBB\xBF" "b\n");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_STR(f[0], "\xEF\xBB\xBF" "b");
        CLOSE();
    }
}

static void test_utf8_and_no_final_newline(void)
{
    OPEN("姓名,城市\n张伟,\"上海, 浦东\"\n李娜,北京");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_STR(f[0], "姓名");
    CHECK_EQ_STR(f[1], "城市");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_STR(f[0], "张伟");
    CHECK_EQ_STR(f[1], "上海, 浦东");
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(f[0], "李娜");
    CHECK_EQ_STR(f[1], "北京");
    CHECK_EQ_INT(csv_line(c), 3);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
    CLOSE();
}

static void test_eof_variants(void)
{
    {
        OPEN("a,\"b\"");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_STR(f[1], "b");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CLOSE();
    }
    {
        OPEN("a,");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_STR(f[1], "");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CLOSE();
    }
    {
        OPEN("a,b\r");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_STR(f[1], "b");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CLOSE();
    }
}

static void test_errors(void)
{
    {
        OPEN("h1,h2\nok,1\n\"never closed,2\nmore\n");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_INT(csv_next(c, &f, &n, err), -1);
        CHECK_EQ_STR(err, "line 3: unterminated quoted field");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CLOSE();
    }
    {
        OPEN("h1,h2\n\"bad\"x,1,\"2\"\nnext,3\n\"also\" ,bad\r\n\"x\"\"\"y\n\"fine\",\"\"\r\nlast,4");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_INT(csv_next(c, &f, &n, err), -1);
        CHECK_EQ_STR(err, "line 2: unexpected character after closing quote");
        CHECK_EQ_INT(csv_line(c), 2);
        err[0] = '\0';
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1); /* resynced on the next line */
        CHECK_EQ_INT(n, 2);
        CHECK_EQ_STR(f[0], "next");
        CHECK_EQ_STR(f[1], "3");
        CHECK_EQ_INT(csv_line(c), 3);
        CHECK_EQ_INT(csv_next(c, &f, &n, err), -1);
        CHECK_EQ_STR(err, "line 4: unexpected character after closing quote");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), -1);
        CHECK_EQ_STR(err, "line 5: unexpected character after closing quote");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_STR(f[0], "fine");
        CHECK_EQ_STR(f[1], "");
        CHECK_EQ_INT(csv_line(c), 6);
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_STR(f[0], "last");
        CHECK_EQ_INT(csv_line(c), 7);
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
        CLOSE();
    }
    {
        /* junk after a quoted field that spans lines names the junk's line */
        OPEN("\"a\nb\"x\nok\n");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), -1);
        CHECK_EQ_STR(err, "line 2: unexpected character after closing quote");
        CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
        CHECK_EQ_STR(f[0], "ok");
        CHECK_EQ_INT(csv_line(c), 3);
        CLOSE();
    }
}

/* Many rows crossing 64 KiB block boundaries in every parser state:
 * quoted fields, "" escapes, CRLF endings, embedded newlines, blank lines. */
static void test_large(void)
{
    enum { ROWS = 200000 };
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp) return;
    fputs("\xEF\xBB\xBF" "id,email,note,score\r\n", fp);
    for (int i = 0; i < ROWS; i++) {
        switch (i % 4) {
        case 0: fprintf(fp, "%d,user%d@example.com,plain,%d\n", i, i, i % 97); break;
        case 1: fprintf(fp, "%d,\"user%d@example.com\",\"say \"\"%d\"\"\",%d\r\n", i, i, i, i % 97); break;
        case 2: fprintf(fp, "%d,user%d@example.com,\"a,b\nc\",%d\n\n", i, i, i % 97); break;
        case 3: fprintf(fp, "%d,user%d@example.com,\"\",\"%d\"\r\n", i, i, i % 97); break;
        }
    }
    /* one field far larger than the read block */
    fputc('"', fp);
    for (int i = 0; i < 300000; i++) fputc(i % 1000 == 999 ? ',' : 'x', fp);
    fputs("\",end\n", fp);
    long size = ftell(fp);
    rewind(fp);

    csv_t *c = csv_new(fp);
    char **f;
    size_t n;
    char err[ERRLEN] = "";
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 1);
    CHECK_EQ_STR(f[0], "id");
    long rows = 0, bad = 0, line = 2;
    int r;
    char want[64];
    while ((r = csv_next(c, &f, &n, err)) == 1 && rows < ROWS) {
        int i = (int)rows;
        if (n != 4 || atoi(f[0]) != i || atoi(f[3]) != i % 97 || csv_line(c) != line) bad++;
        snprintf(want, sizeof want, "user%d@example.com", i);
        if (strcmp(f[1], want) != 0) bad++;
        switch (i % 4) {
        case 0: if (strcmp(f[2], "plain") != 0) bad++; line += 1; break;
        case 1:
            snprintf(want, sizeof want, "say \"%d\"", i);
            if (strcmp(f[2], want) != 0) bad++;
            line += 1;
            break;
        case 2: if (strcmp(f[2], "a,b\nc") != 0) bad++; line += 3; break;
        case 3: if (f[2][0] != '\0') bad++; line += 1; break;
        }
        if (i == 123457) {
            CHECK_EQ_STR(f[1], "user123457@example.com");
            CHECK_EQ_STR(f[2], "say \"123457\"");
        }
        rows++;
    }
    CHECK_EQ_INT(rows, ROWS);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(r, 1); /* the big record */
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(strlen(f[0]), 300000);
    CHECK_EQ_STR(f[1], "end");
    CHECK_EQ_INT(csv_line(c), line);
    CHECK_EQ_INT(csv_next(c, &f, &n, err), 0);
    CHECK_EQ_INT(csv_offset(c), size);
    CHECK_EQ_STR(err, "");
    csv_free(c);
    fclose(fp);
}

int main(void)
{
    test_basic();
    test_quoting();
    test_crlf_bom_blank();
    test_bom_only_and_empty();
    test_utf8_and_no_final_newline();
    test_eof_variants();
    test_errors();
    test_large();
    T_DONE();
}
