/* Hostile: spins forever on the CPU before main(). */
__attribute__((constructor)) static void hostile(void)
{
    volatile unsigned long n = 0;

    for (;;) {
        n++;
    }
}
