/* html_assets.h — the HTML report's stylesheet and script (analyzer/html/report.css and
 * report.js), compiled in by analyzer/html/embed.py. */
#ifndef HTML_ASSETS_H
#define HTML_ASSETS_H

extern const char lt_html_css[];
extern const char lt_html_js[];

#endif
