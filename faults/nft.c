#include "faults/nft.h"

#include <stdio.h>
#include <string.h>

#include "faults/netns.h"
#include "base/alloc.h"

char *fl_nft_table_text(const char *table) {
  /* Priority -200 (the bridge family's "filter") runs before anything a host
   * firewall hooks later; policy accept: the table only ever drops what a
   * partition names. */
  return fl_asprintf("table bridge %s {\n"
                     "  chain cut {\n"
                     "  }\n"
                     "  chain forward {\n"
                     "    type filter hook forward priority -200; policy accept;\n"
                     "    jump cut\n"
                     "  }\n"
                     "  chain input {\n"
                     "    type filter hook input priority -200; policy accept;\n"
                     "    jump cut\n"
                     "  }\n"
                     "  chain output {\n"
                     "    type filter hook output priority -200; policy accept;\n"
                     "    jump cut\n"
                     "  }\n"
                     "}\n",
                     table);
}

char *fl_nft_cut_text(const char *table, const fl_nft_cut_t *cuts, size_t n) {
  size_t cap = 64 + strlen(table) + n * (96 + strlen(table));
  char *out = fl_malloc(cap);
  size_t len = (size_t)snprintf(out, cap, "flush chain bridge %s cut\n", table);
  for (size_t i = 0; i < n; i++) {
    char s[16], d[16];
    fl_ip4_format(cuts[i].src, s, sizeof(s));
    fl_ip4_format(cuts[i].dst, d, sizeof(d));
    len += (size_t)snprintf(out + len, cap - len,
                            "add rule bridge %s cut ip saddr %s ip daddr %s drop\n",
                            table, s, d);
  }
  return out;
}
