// The access policy's rule for groups, without a daemon: primary gid or any supplementary gid
// admits; when the supplementary groups could not be read the refusal says so.

import LLFreeServer
import Testing

struct AccessPolicyGroupTests {
    let policy = AccessPolicy(uids: [1000], gids: [50, 60])

    @Test func anyAllowedSupplementaryGroupAdmits() {
        #expect(policy.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 7, groups: .known([3, 60, 90]))) == nil)
        #expect(policy.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 50, groups: .known([]))) == nil)
        #expect(policy.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 7, groups: .known([3, 90]))) != nil)
    }

    @Test func unreadableGroupsFallBackToThePrimaryGidAndSaySo() {
        let refusal = policy.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 7, groups: .unavailable("SO_PEERGROUPS: ENOPROTOOPT")))
        #expect(refusal?.contains("only its primary gid was checked") == true)
        #expect(refusal?.contains("ENOPROTOOPT") == true)
        #expect(policy.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 60, groups: .unavailable("old kernel"))) == nil)
        // Without groups in the policy the groups are irrelevant and not mentioned.
        let usersOnly = AccessPolicy(uids: [1000])
        #expect(usersOnly.refusal(of: PeerCredentials(pid: 1, uid: 7, gid: 7, groups: .unavailable("x")))?.contains("primary") == false)
    }
}
