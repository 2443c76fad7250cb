/* `faultline init [DIR]`: writes a starter layout into DIR (default: the
 * working directory): a scenario for one service behind a proxy with a
 * workload and two checks, a module of its own under scenarios/lib/, and CI
 * files for GitHub Actions and GitLab CI that run `faultline suite` and keep
 * the reports and junit.xml. The files are embedded below; the layout runs
 * green as written (tests/integration/init.sh). Existing files are never
 * overwritten: init refuses, naming the first one, before writing anything. */
#include "harness/cmd_init.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "harness/cli.h"

static const fl_init_file_t FILES[] = {
    {"README.md",
     "# Chaos scenarios (faultline)\n"
     "\n"
     "Written by `faultline init`. Layout:\n"
     "\n"
     "- `scenarios/*.lua`: scenario files; `faultline suite scenarios` runs them all.\n"
     "- `scenarios/lib/`: your own Lua modules (`require(\"lib.web\")`); never run as\n"
     "  scenarios.\n"
     "- `.github/workflows/faultline.yml`, `.gitlab-ci.yml`: CI that runs the suite\n"
     "  and keeps the reports and junit.xml.\n"
     "\n"
     "Run one file with `faultline run scenarios/web-recovers.lua`; each run\n"
     "writes report.html, report.json, summary.md and the logs under `runs/`\n"
     "(or `--out DIR`).\n"},
    {".gitignore", "runs/\n"
                   "faultline-runs/\n"},
    {"scenarios/web-recovers.lua",
     "-- A starter scenario (written by `faultline init`): one service behind a\n"
     "-- proxy, a workload of reads through the proxy, a fault, and two checks.\n"
     "-- Run it with `faultline run scenarios/web-recovers.lua`, or every scenario\n"
     "-- with `faultline suite scenarios` (files under scenarios/lib/ are modules,\n"
     "-- never run as scenarios). The Lua API: docs/lua-api/ in faultline's source.\n"
     "local fl = require(\"faultline\")\n"
     "local web = require(\"lib.web\") -- scenarios/lib/web.lua, beside this file\n"
     "\n"
     "fl.scenario(\"the web service recovers when its link comes back\", { timeout = 60 "
     "}, function()\n"
     "  local server = web.server{ name = \"web\" }\n"
     "  server.svc:start()\n"
     "\n"
     "  -- Clients reach the service through a proxy: faults go on the proxy.\n"
     "  local proxy = fl.proxy{ from = \"client\", to = \"web\", upstream = server.addr "
     "}\n"
     "  local load = fl.workload{\n"
     "    name = \"get\", clients = 2, rate = 40, duration = 6,\n"
     "    ops = web.get_ops{ url = \"http://\" .. proxy.listen .. \"/\", timeout = 1 },\n"
     "  }\n"
     "\n"
     "  fl.sleep(2)\n"
     "  fl.log(\"taking the link down for 1 s\")\n"
     "  proxy:disable()       -- a \"down\" fault on the timeline\n"
     "  fl.sleep(1)\n"
     "  proxy:enable()        -- the fault ends here\n"
     "  load:wait()\n"
     "\n"
     "  -- Reads succeed again within 2 s of the link coming back ...\n"
     "  fl.check.recovery{ after = \"down\", within = 2, history = load }\n"
     "  -- ... and almost all of them succeed after it.\n"
     "  fl.check.availability{ phase = \"after\", min = 0.9, history = load }\n"
     "end)\n"},
    {"scenarios/lib/web.lua",
     "-- A helper module of your own: `require(\"lib.web\")` in a scenario of the\n"
     "-- folder above finds it. Replace it with the services of your system.\n"
     "local fl = require(\"faultline\")\n"
     "\n"
     "local M = {}\n"
     "\n"
     "--- web.server{name=, port=}: python3's http.server on 127.0.0.1, serving\n"
     "--- the run directory. Returns {svc = the (unstarted) service, addr =}.\n"
     "function M.server(opts)\n"
     "  opts = fl.options(opts, \"web.server\", { \"name\", \"port\" })\n"
     "  local port = opts.port or fl.port()\n"
     "  local svc = fl.service{\n"
     "    name = opts.name or \"web\",\n"
     "    cmd = { \"python3\", \"-m\", \"http.server\", tostring(port), \"--bind\", "
     "\"127.0.0.1\",\n"
     "            \"--directory\", fl.info().dir },\n"
     "    ready = fl.probe.http(\"http://127.0.0.1:\" .. port .. \"/\", { timeout = 15 "
     "}),\n"
     "  }\n"
     "  return { svc = svc, addr = \"127.0.0.1:\" .. port }\n"
     "end\n"
     "\n"
     "--- web.get_ops{url=, timeout=}: a workload generator of GET requests,\n"
     "--- recorded as reads (a read changes nothing, so any error is a \"fail\").\n"
     "function M.get_ops(opts)\n"
     "  opts = fl.options(opts, \"web.get_ops\", { \"url\", \"timeout\" })\n"
     "  local gen = {}\n"
     "  function gen.next() return { f = \"read\", key = \"index\" } end\n"
     "  function gen.run()\n"
     "    local r, err = fl.http.get(opts.url, { timeout = opts.timeout or 1 })\n"
     "    if not r then return \"fail\", nil, err end\n"
     "    if r.status ~= 200 then return \"fail\", nil, \"HTTP \" .. r.status end\n"
     "    return \"ok\", #r.body\n"
     "  end\n"
     "  return gen\n"
     "end\n"
     "\n"
     "return M\n"},
    {".github/workflows/faultline.yml",
     "# Runs the faultline scenarios on every push and pull request, and keeps the\n"
     "# reports (report.html per scenario, summary.md) and junit.xml.\n"
     "# Set the repository variable FAULTLINE_GIT to a git URL of faultline's\n"
     "# source (or replace the install step with your own way to get the binary).\n"
     "name: faultline\n"
     "on: [push, pull_request]\n"
     "jobs:\n"
     "  scenarios:\n"
     "    runs-on: ubuntu-latest\n"
     "    steps:\n"
     "      - uses: actions/checkout@v4\n"
     "      - name: Install faultline\n"
     "        env:\n"
     "          FAULTLINE_GIT: ${{ vars.FAULTLINE_GIT }}\n"
     "        run: |\n"
     "          sudo apt-get update\n"
     "          sudo apt-get install -y build-essential cmake pkg-config libuv1-dev \\\n"
     "            libcurl4-openssl-dev libjansson-dev liblua5.4-dev libcmocka-dev \\\n"
     "            libhttp-parser-dev libpq-dev python3\n"
     "          git clone --depth 1 \"$FAULTLINE_GIT\" \"$RUNNER_TEMP/faultline\"\n"
     "          make -C \"$RUNNER_TEMP/faultline\"\n"
     "          echo \"$RUNNER_TEMP/faultline/build\" >> \"$GITHUB_PATH\"\n"
     "      - name: Run the scenarios\n"
     "        run: faultline suite scenarios --jobs 2 --out faultline-runs --junit "
     "faultline-runs/junit.xml\n"
     "      - name: Keep the reports\n"
     "        if: always()\n"
     "        uses: actions/upload-artifact@v4\n"
     "        with:\n"
     "          name: faultline-reports\n"
     "          path: faultline-runs\n"
     "      - name: Publish the JUnit results\n"
     "        if: always()\n"
     "        uses: mikepenz/action-junit-report@v4\n"
     "        with:\n"
     "          report_paths: faultline-runs/junit.xml\n"},
    {".gitlab-ci.yml",
     "# Runs the faultline scenarios and keeps the reports and junit.xml.\n"
     "# Set the CI/CD variable FAULTLINE_GIT to a git URL of faultline's source\n"
     "# (or replace before_script with your own way to get the binary).\n"
     "faultline:\n"
     "  image: debian:bookworm\n"
     "  before_script:\n"
     "    - apt-get update\n"
     "    - apt-get install -y build-essential cmake pkg-config git libuv1-dev\n"
     "      libcurl4-openssl-dev libjansson-dev liblua5.4-dev libcmocka-dev\n"
     "      libhttp-parser-dev libpq-dev python3\n"
     "    - git clone --depth 1 \"$FAULTLINE_GIT\" /opt/faultline\n"
     "    - make -C /opt/faultline\n"
     "    - export PATH=\"/opt/faultline/build:$PATH\"\n"
     "  script:\n"
     "    - faultline suite scenarios --jobs 2 --out faultline-runs --junit "
     "faultline-runs/junit.xml\n"
     "  artifacts:\n"
     "    when: always\n"
     "    paths:\n"
     "      - faultline-runs/\n"
     "    reports:\n"
     "      junit: faultline-runs/junit.xml\n"},
    {NULL, NULL},
};

const fl_init_file_t *fl_init_files(void) {
  return FILES;
}

int fl_init_write(const char *dir, FILE *log, fl_err_t *err) {
  struct stat st;
  for (const fl_init_file_t *f = FILES; f->path != NULL; f++) {
    char *p = fl_asprintf("%s/%s", dir, f->path);
    int exists = lstat(p, &st) == 0;
    if (exists) {
      fl_err_set(err, FL_EUSAGE,
                 "%s already exists: init writes into a folder without "
                 "its files, and overwrites nothing",
                 p);
      fl_free(p);
      return FL_EUSAGE;
    }
    fl_free(p);
  }
  for (const fl_init_file_t *f = FILES; f->path != NULL; f++) {
    char *p = fl_asprintf("%s/%s", dir, f->path);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    int rc = fl_mkdir_p(p);
    *slash = '/';
    FILE *out = rc == 0 ? fopen(p, "wx") : NULL;
    int bad = out == NULL || fputs(f->text, out) < 0;
    if (out != NULL && fclose(out) != 0)
      bad = 1;
    if (bad) {
      int e = rc < 0 ? -rc : errno;
      fl_err_set(err, -e, "%s: %s", p, strerror(e));
      fl_free(p);
      return -e;
    }
    if (log != NULL)
      fprintf(log, "wrote %s\n", p);
    fl_free(p);
  }
  return 0;
}

static const char USAGE[] =
    "usage: faultline init [DIR]\n"
    "  writes a starter layout into DIR (default: here): scenarios/web-recovers.lua\n"
    "  (a service behind a proxy, a workload, a fault, two checks), its module\n"
    "  scenarios/lib/web.lua, and CI files (.github/workflows/faultline.yml,\n"
    "  .gitlab-ci.yml) running `faultline suite scenarios`; overwrites nothing\n";

static const struct option LONGOPTS[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int fl_init_args_parse(fl_init_args_t *out, int argc, char **argv, fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  out->dir = ".";
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "h", LONGOPTS, 0);
  int ch, nargs = 0;
  while ((ch = fl_cli_next(&c, err)) != FL_CLI_END) {
    switch (ch) {
    case FL_CLI_ARG:
      if (nargs++ > 0)
        return fl_err_set(err, FL_EUSAGE, "unexpected argument \"%s\" (one DIR at most)",
                          c.arg);
      out->dir = c.arg;
      break;
    case 'h':
      out->help = 1;
      return 0;
    default:
      return ch;
    }
  }
  return 0;
}

/* How the user calls this faultline: "faultline" when that name on PATH is
 * this binary, else its absolute path (a fresh build is not on PATH). The
 * result is static. */
static const char *own_name(void) {
  static char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return "faultline";
  self[n] = '\0';
  const char *path = getenv("PATH");
  while (path != NULL && *path != '\0') {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    char *cand = fl_asprintf("%.*s/faultline", (int)len, len ? path : ".");
    char real[PATH_MAX];
    int same = realpath(cand, real) != NULL && strcmp(real, self) == 0;
    fl_free(cand);
    if (same)
      return "faultline";
    path = colon ? colon + 1 : NULL;
  }
  return self;
}

int fl_cmd_init(int argc, char **argv) {
  fl_init_args_t a;
  fl_err_t err = {0};
  if (fl_init_args_parse(&a, argc, argv, &err) < 0)
    return fl_cli_usage_error("init", &err);
  if (a.help) {
    fputs(USAGE, stdout);
    return 0;
  }
  int rc = fl_init_write(a.dir, stdout, &err);
  if (rc < 0) {
    fprintf(stderr, "faultline init: %s\n", err.msg);
    return rc == FL_EUSAGE ? 2 : 1;
  }
  const char *me = own_name();
  printf("next: cd %s && %s suite scenarios\n", a.dir, me);
  if (strcmp(me, "faultline") != 0)
    printf("(%s is not on your PATH; the CI files call it `faultline`: add its directory "
           "to PATH there)\n",
           me);
  return 0;
}
