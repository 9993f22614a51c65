/* SPDX-License-Identifier: MIT */
/* runner.h - the scenario runner's entry points, called by the crosspost
 * command (cli/main.c).
 *
 * Each takes the arguments after the program name (argv[0] is the command's
 * own name) and returns the process exit status: 0 every expectation held,
 * 1 one failed (or a failure, message on stderr), 2 usage or syntax error. */
#ifndef CP_RUNNER_H
#define CP_RUNNER_H

/* `crosspost run FILE...`: runs scenario files (cmd_run.c). */
int cmd_run(int argc, char **argv);
/* Hidden `crosspost agent`: the per-window process the runner starts
 * (cmd_agent.c). */
int cmd_agent(int argc, char **argv);
/* Hidden `crosspost browser-host`: the headless Chromium of `run
 * --browser` and `run --compare` (browser_host.c). */
int cmd_browser_host(int argc, char **argv);

#endif
