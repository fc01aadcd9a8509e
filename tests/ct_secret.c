/* ct_secret.c: util_secret_equal on 64-byte secrets that differ at byte 0, 31 or 63, or not
 * at all, each compare in a function of its own, so that tests/test_ct.sh can count the
 * instructions of each under callgrind (--toggle-collect) and require them equal. */
#include <stdio.h>
#include <string.h>

#include "util.h"

#define CT_LEN 64

static char ct_secret[CT_LEN], ct_at0[CT_LEN], ct_at31[CT_LEN], ct_at63[CT_LEN], ct_same[CT_LEN];

int ct_compare_at0(void);
int ct_compare_at31(void);
int ct_compare_at63(void);
int ct_compare_same(void);

/* Compare the secret with a copy whose byte 0 differs. */
__attribute__((noinline)) int
ct_compare_at0(void)
{
    return util_secret_equal(ct_secret, CT_LEN, ct_at0, CT_LEN);
}

/* Compare the secret with a copy whose byte 31 differs. */
__attribute__((noinline)) int
ct_compare_at31(void)
{
    return util_secret_equal(ct_secret, CT_LEN, ct_at31, CT_LEN);
}

/* Compare the secret with a copy whose byte 63 differs. */
__attribute__((noinline)) int
ct_compare_at63(void)
{
    return util_secret_equal(ct_secret, CT_LEN, ct_at63, CT_LEN);
}

/* Compare the secret with an equal copy. */
__attribute__((noinline)) int
ct_compare_same(void)
{
    return util_secret_equal(ct_secret, CT_LEN, ct_same, CT_LEN);
}

/* Build the secrets, compare each once, and check the answers. */
int
main(void)
{
    int at0, at31, at63, same;
    size_t i;

    for (i = 0; i < CT_LEN; i++)
        ct_secret[i] = (char)('!' + (i * 7) % 90);
    memcpy(ct_at0, ct_secret, CT_LEN);
    memcpy(ct_at31, ct_secret, CT_LEN);
    memcpy(ct_at63, ct_secret, CT_LEN);
    memcpy(ct_same, ct_secret, CT_LEN);
    ct_at0[0] ^= 1;
    ct_at31[31] ^= 1;
    ct_at63[63] ^= 1;
    at0 = ct_compare_at0();
    at31 = ct_compare_at31();
    at63 = ct_compare_at63();
    same = ct_compare_same();
    printf("at0 %d at31 %d at63 %d same %d\n", at0, at31, at63, same);
    return at0 == 0 && at31 == 0 && at63 == 0 && same == 1 ? 0 : 1;
}
