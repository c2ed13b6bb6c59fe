/* Generates filters.golden: chan_voter's receive filters as its C code
 * computes them (float delay lines, double feedback terms, 32-bit integer
 * de-emphasis), for the input sequence of TestRxFiltersGolden.
 * Written for redund from the filters' published coefficients.
 * Build and run: cc -O2 -o /tmp/fg filters_golden.c && /tmp/fg > filters.golden */
#include <stdio.h>
#include <stdint.h>
#include <math.h>

static float hx[7], hy[7];
static int32_t dstate;

static int16_t highpass(int16_t in)
{
	for (int k = 0; k < 6; k++) {
		hx[k] = hx[k + 1];
		hy[k] = hy[k + 1];
	}
	hx[6] = ((float) in) / 1.745882764e+00;
	hy[6] = (hx[0] + hx[6]) - 6 * (hx[1] + hx[5]) + 15 * (hx[2] + hx[4]) - 20 * hx[3]
		+ (-0.3491861578 * hy[0]) + (2.3932556573 * hy[1]) + (-6.9905126572 * hy[2])
		+ (11.0685981760 * hy[3]) + (-9.9896695552 * hy[4]) + (4.8664511065 * hy[5]);
	return (int) hy[6];
}

static int16_t deemphasis(int16_t in)
{
	int32_t a = in;
	dstate = a + (dstate * 25889) / 32768;
	a = (dstate * 6878) / 8192;
	return a;
}

/* the test's input: a 100 Hz "CTCSS" tone plus a 1 kHz tone plus an LCG
 * noise, 800 samples */
static int16_t input(int i)
{
	static uint32_t lcg = 12345;
	lcg = lcg * 1103515245u + 12345u;
	double v = 6000 * sin(2 * M_PI * 100 * i / 8000.0) + 8000 * sin(2 * M_PI * 1000 * i / 8000.0)
		+ (double) ((int) (lcg >> 16) % 2001 - 1000);
	return (int16_t) v;
}

int main(void)
{
	for (int i = 0; i < 800; i++) {
		int16_t x = input(i);
		int16_t h = highpass(x);
		int16_t d = deemphasis(h);
		printf("%d %d %d\n", x, h, d);
	}
	return 0;
}
