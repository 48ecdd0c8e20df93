/* SPDX-License-Identifier: MIT */
/*
 * serial_why.h - why a serial port could not be opened, in words a field
 * engineer can act on (the Modbus RTU and IEC 62056-21 drivers).
 */
#ifndef GW_SERIAL_WHY_H
#define GW_SERIAL_WHY_H

#include <stddef.h>

/* Writes into buf (cap bytes) "cannot open DEVICE: REASON; WHAT TO DO" for
 * the errno err of a failed open (or configuration) of device:
 * - missing (ENOENT, ENODEV, ENXIO): the serial ports that exist here
 *   (/dev/serial/by-id/, /dev/ttyUSB*, /dev/ttyACM*, /dev/ttyS*);
 * - permission (EACCES, EPERM): the group that owns the device and the
 *   user to add to it;
 * - busy (EBUSY, or a UUCP lock file /var/lock/LCK..NAME): the process that
 *   holds the device open, found through /proc/PID/fd, if it can be seen;
 * - not a terminal (ENOTTY, EISDIR, a regular file): says so.
 * Returns buf. */
char *gw_serial_advice(const char *device, int err, char *buf, size_t cap);

/* The serial ports that exist on this machine, separated by ", ", into buf
 * (cap bytes; "" when there are none): the stable names under
 * /dev/serial/by-id/ first, then /dev/ttyUSB*, ttyACM*, ttyAMA*, and the
 * ttyS* that have a UART behind them. Returns how many were found. */
int gw_serial_list(char *buf, size_t cap);

/* The pid of a process other than this one that has path open (compared
 * by device and inode), with its command name in comm (comm_cap bytes),
 * or 0 if none can be seen. */
int gw_serial_holder(const char *path, char *comm, size_t comm_cap);

#endif
