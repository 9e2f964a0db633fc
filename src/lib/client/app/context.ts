// How components reach the signed-in app's state: the (app) layout creates one ChatState and
// provides it; everything below reads it with useChat().
import { createContext } from 'svelte';
import type { ChatState } from '../chat/chat-state.svelte.ts';

export const [useChat, provideChat] = createContext<ChatState>();
