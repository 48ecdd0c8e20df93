/* SPDX-License-Identifier: MIT */
/*
 * serial_why.c - a failed open of a serial port put into words a field
 * engineer can act on: which ports do exist (a USB adapter that came up as
 * ttyUSB1, not ttyUSB0), which group to join (the gateway runs as a user
 * that is not in `dialout`), which process holds the port (a forgotten
 * minicom, ModemManager probing a new adapter).
 *
 * Only what can be seen is said: another user's processes may hide their
 * open files (/proc/PID/fd is readable by their owner and root only), and
 * then the message says that the holder could not be found.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serial_why.h"

/* Appends ", name" (or "name" first) to buf if it fits. */
static void list_add(char *buf, size_t cap, const char *name)
{
	size_t len = strlen(buf);

	if (len + strlen(name) + 3 >= cap)
		return;
	snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the entries of dir whose names start with prefix, sorted, as
 * "dir/name"; keep(name) may refuse one. Returns how many. */
static int list_dir(char *buf, size_t cap, const char *dir, const char *prefix,
		    int (*keep)(const char *name))
{
	DIR *d = opendir(dir);
	char *names[256];
	int n = 0;

	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
		if (e->d_name[0] == '.' ||
		    strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (keep && !keep(e->d_name))
			continue;
		names[n] = strdup(e->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), by_name);
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		list_add(buf, cap, path);
		free(names[i]);
	}
	return n;
}

/* A ttyS* with a UART behind it: the kernel makes ttyS0..31 whether or
 * not the hardware is there, and says "0" (PORT_UNKNOWN) in their type. */
static int uart_present(const char *name)
{
	char path[PATH_MAX], t[16] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/tty/%s/type", name);
	f = fopen(path, "r");
	if (!f)
		return 1;
	if (!fgets(t, sizeof(t), f))
		t[0] = '\0';
	fclose(f);
	return atoi(t) != 0;
}

int gw_serial_list(char *buf, size_t cap)
{
	int n = 0;

	if (cap)
		buf[0] = '\0';
	n += list_dir(buf, cap, "/dev/serial/by-id", "", NULL);
	n += list_dir(buf, cap, "/dev", "ttyUSB", NULL);
	n += list_dir(buf, cap, "/dev", "ttyACM", NULL);
	n += list_dir(buf, cap, "/dev", "ttyAMA", NULL);
	n += list_dir(buf, cap, "/dev", "ttyS", uart_present);
	return n;
}

int gw_serial_holder(const char *path, char *comm, size_t comm_cap)
{
	struct stat want;
	DIR *proc;
	int found = 0;

	if (comm_cap)
		comm[0] = '\0';
	if (stat(path, &want) != 0 || !(proc = opendir("/proc")))
		return 0;
	for (struct dirent *p; !found && (p = readdir(proc)) != NULL;) {
		char *end;
		long pid = strtol(p->d_name, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		char dir[64];
		snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
		DIR *fds = opendir(dir);
		if (!fds)
			continue; /* gone, or another user's */
		for (struct dirent *f; (f = readdir(fds)) != NULL;) {
			char fd_path[320];
			struct stat st;
			if (f->d_name[0] == '.')
				continue;
			snprintf(fd_path, sizeof(fd_path), "%s/%s", dir, f->d_name);
			if (stat(fd_path, &st) == 0 && st.st_dev == want.st_dev &&
			    st.st_ino == want.st_ino && st.st_rdev == want.st_rdev) {
				found = (int)pid;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	if (found && comm_cap) {
		char cpath[64];
		snprintf(cpath, sizeof(cpath), "/proc/%d/comm", found);
		FILE *f = fopen(cpath, "r");
		if (f) {
			if (fgets(comm, (int)comm_cap, f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
	}
	return found;
}

/* The pid in a UUCP lock file of device (/var/lock/LCK..ttyUSB0, ASCII
 * or a binary int), or 0. */
static int lock_pid(const char *device)
{
	static const char *const dirs[] = {"/run/lock", "/var/lock"};
	const char *base = strrchr(device, '/');
	char path[PATH_MAX];

	base = base ? base + 1 : device;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/LCK..%s", dirs[i], base);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		char text[32] = "";
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		int pid = 0;
		if (n == sizeof(int) && (text[0] < ' ' || text[3] < ' '))
			memcpy(&pid, text, sizeof(int));
		else
			pid = atoi(text);
		if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
			return pid;
	}
	return 0;
}

/* "the group dialout (add the user gw to it: ...)" for a device the user
 * may not open. */
static void advise_permission(const char *device, char *buf, size_t cap)
{
	struct stat st;
	struct group *g = NULL;
	struct passwd *pw = getpwuid(geteuid());
	const char *user = pw ? pw->pw_name : "the gateway's user";
	char gname[64] = "dialout";

	if (stat(device, &st) == 0 && (g = getgrgid(st.st_gid)) != NULL)
		snprintf(gname, sizeof(gname), "%s", g->gr_name);
	snprintf(buf, cap,
		 "permission denied; the device belongs to the group %s: add the "
		 "user %s to it (usermod -aG %s %s) and restart the gateway",
		 gname, user, gname, user);
}

static void advise_missing(char *buf, size_t cap)
{
	char ports[768];

	if (gw_serial_list(ports, sizeof(ports)) == 0)
		snprintf(buf, cap, "no such device, and no serial port is present "
			 "(is the USB adapter plugged in? see dmesg)");
	else
		snprintf(buf, cap, "no such device; serial ports present: %s", ports);
}

static void advise_busy(const char *device, char *buf, size_t cap)
{
	char comm[64];
	int pid = gw_serial_holder(device, comm, sizeof(comm));

	if (pid > 0) {
		snprintf(buf, cap, "in use by process %d (%s); stop it, or give "
			 "this bus another port", pid, comm[0] ? comm : "?");
		return;
	}
	pid = lock_pid(device);
	if (pid > 0)
		snprintf(buf, cap, "in use: locked by process %d (lock file in "
			 "/var/lock)", pid);
	else
		snprintf(buf, cap, "in use by another program (which one cannot "
			 "be seen: another user's process?)");
}

char *gw_serial_advice(const char *device, int err, char *buf, size_t cap)
{
	char why[1024];
	struct stat st;

	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		advise_missing(why, sizeof(why));
		break;
	case EACCES:
	case EPERM:
		advise_permission(device, why, sizeof(why));
		break;
	case EBUSY:
		advise_busy(device, why, sizeof(why));
		break;
	case EISDIR:
		snprintf(why, sizeof(why), "a directory, not a serial port");
		break;
	case ENOTTY:
	case EINVAL:
		if (stat(device, &st) == 0 && !S_ISCHR(st.st_mode))
			snprintf(why, sizeof(why), "not a serial port (%s)",
				 S_ISDIR(st.st_mode) ? "a directory" : "not a device");
		else
			snprintf(why, sizeof(why), "not a serial port (%s)",
				 strerror(err));
		break;
	default:
		snprintf(why, sizeof(why), "%s", strerror(err));
		break;
	}
	snprintf(buf, cap, "cannot open %s: %s", device, why);
	return buf;
}
