/* Prints the options table as the Markdown that docs/OPTIONS.md carries between its
 * "options:begin/end" markers; the options-doc test fails when the two drift apart. */
#include <stdio.h>

#include "options.h"

int main(void)
{
    size_t n;
    const struct lt_option_doc *docs = lt_options_docs(&n);
    printf("| Variable | Default | Values | Meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++)
        printf("| `%s` | `%s` | %s | %s |\n", docs[i].name, docs[i].default_text,
               docs[i].values, docs[i].help);
    return 0;
}
