/* SPDX-License-Identifier: MIT */
/*
 * metersim_iec.h - the IEC 62056-21 half of metersim: `metersim --iec
 * DEVICE ...` hands its whole command line to metersim_iec_main().
 */
#ifndef GW_METERSIM_IEC_H
#define GW_METERSIM_IEC_H

/* Runs the IEC 62056-21 simulator; returns the process exit status. */
int metersim_iec_main(int argc, char **argv);

#endif
