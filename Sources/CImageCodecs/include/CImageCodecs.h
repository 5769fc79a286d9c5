#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
// C shims around libjpeg, libpng and libwebp (filled in by the imaging module).
int cimagecodecs_version(void);
#endif
