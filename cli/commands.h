/* SPDX-License-Identifier: MIT */
/* commands.h - the crosspost CLI's subcommands, one file each (cmd_NAME.c).
 *
 * Each takes the arguments after the program name (argv[0] is the command's
 * own name) and returns the process exit status: 0 success, 1 failure
 * (message on stderr), 2 usage error.  Options common to all commands
 * (--socket PATH, --help) are parsed by each command. */
#ifndef CP_CLI_COMMANDS_H
#define CP_CLI_COMMANDS_H

int cmd_listen(int argc, char **argv);
int cmd_post(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_origin(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_stats(int argc, char **argv);
/* Runs the crosspost-gateway program (gateway/), which links libwebsockets. */
int cmd_gateway(int argc, char **argv);
/* `run` and the hidden `agent` are the scenario runner's: runner/runner.h. */

#endif
