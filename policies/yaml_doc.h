#ifndef POSTERN_YAML_DOC_H
#define POSTERN_YAML_DOC_H
#endif
