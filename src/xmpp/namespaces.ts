/** XML namespaces this server speaks, named once. */
export const NS_STREAM = 'http://etherx.jabber.org/streams';
export const NS_COMPONENT = 'jabber:component:accept';
export const NS_SERVER = 'jabber:server';
export const NS_CLIENT = 'jabber:client';
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_STANZA_ERRORS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_PING = 'urn:xmpp:ping';
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
