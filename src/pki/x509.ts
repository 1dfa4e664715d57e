// @peculiar/x509 resolves its algorithm providers through tsyringe, which
// needs the Reflect metadata API; it must be loaded before the library is, so
// every module of ours takes the library from here and never directly.
import 'reflect-metadata';

export * from '@peculiar/x509';
